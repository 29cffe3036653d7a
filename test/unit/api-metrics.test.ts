import { describe, expect, it } from 'vitest';
import { buildApiWithoutServers } from '../../stack/api-without-servers.js';

// GET /metrics (api/plugins/metrics.ts) on the real API without servers: a health-kind route (open,
// or bearer with API_HEALTH_AUTH), outside the OpenAPI document, counting every answer by route
// pattern and status code; Fastify's own 404s as `unmatched`, never by their path.
const token = 'metrics-token-0123456789abcdef';

const countOf = (text: string, method: string, route: string, status: number) =>
  Number(
    text
      .split('\n')
      .find((line) => line.startsWith(`http_request_duration_seconds_count{method="${method}",route="${route}",status_code="${status}"}`))
      ?.split(' ')[1] ?? 0,
  );

describe('GET /metrics', () => {
  it('counts answers by route pattern and status; unknown paths as `unmatched`; not documented', async () => {
    const app = await buildApiWithoutServers({ authToken: token });
    try {
      await app.inject({ method: 'GET', url: '/health' });
      await app.inject({ method: 'GET', url: '/health' });
      await app.inject({ method: 'GET', url: '/v1/charges/charge-secret-looking-id' }); // 401: no bearer token
      await app.inject({ method: 'GET', url: '/no/such/path-abc123' });
      const metrics = await app.inject({ method: 'GET', url: '/metrics' });
      expect(metrics.statusCode).toBe(200);
      expect(metrics.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
      expect(metrics.headers['cache-control']).toBe('no-store');
      const text = metrics.body;
      expect(countOf(text, 'GET', '/health', 200)).toBe(2);
      expect(countOf(text, 'GET', '/v1/charges/:charge_id', 401)).toBe(1);
      expect(countOf(text, 'GET', 'unmatched', 404)).toBe(1);
      expect(text).not.toContain('charge-secret-looking-id');
      expect(text).not.toContain('path-abc123');
      // Buckets, for latency quantiles.
      expect(text).toMatch(/^http_request_duration_seconds_bucket\{le="\+Inf",method="GET",route="\/health",status_code="200"\} 2$/m);
      const document = (await app.inject({ method: 'GET', url: '/openapi.json' })).json() as { paths: Record<string, unknown> };
      expect(Object.keys(document.paths)).not.toContain('/metrics');
    } finally {
      await app.close();
    }
  });

  it('needs the bearer token with API_HEALTH_AUTH, like /health', async () => {
    const app = await buildApiWithoutServers({ authToken: token, healthAuth: true });
    try {
      const refused = await app.inject({ method: 'GET', url: '/metrics' });
      expect(refused.statusCode).toBe(401);
      expect(refused.json()).toMatchObject({ error: 'unauthorized' });
      const allowed = await app.inject({ method: 'GET', url: '/metrics', headers: { authorization: `Bearer ${token}` } });
      expect(allowed.statusCode).toBe(200);
      expect(allowed.body).toContain('http_request_duration_seconds');
    } finally {
      await app.close();
    }
  });
});
