import { afterEach, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { buildApiWithoutServers } from '../../stack/api-without-servers.js';

// The demo checkout is served only when the API is given a simulator (development: api/main.ts
// never gives one in production mode), with its own Content-Security-Policy, hidden from the
// OpenAPI document, behind the same bearer token as /v1 when one is configured. What it does in a
// browser: test/browser/step-up.browser.test.ts.

const apps: FastifyInstance[] = [];
afterEach(async () => {
  while (apps.length) await apps.pop()!.close();
});
async function api(overrides: Parameters<typeof buildApiWithoutServers>[0] = {}) {
  const app = await buildApiWithoutServers(overrides);
  apps.push(app);
  return app;
}
const simulatorUrl = 'http://127.0.0.1:8090';

describe('demo checkout', () => {
  it('is not there without a simulator (production, or any API not given one)', async () => {
    const app = await api();
    for (const url of ['/demo/checkout', '/demo/checkout.js']) expect((await app.inject({ method: 'GET', url })).statusCode).toBe(404);
    expect((await app.inject({ method: 'POST', url: '/demo/refused-charge', payload: {} })).statusCode).toBe(404);
  });

  it("serves the page with the simulator's SDK stand-in and a policy that allows only it and this API", async () => {
    const app = await api({ demo: { simulatorUrl } });
    const page = await app.inject({ method: 'GET', url: '/demo/checkout' });
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-type']).toMatch(/^text\/html/);
    expect(page.body).toContain(`<script src="${simulatorUrl}/_sim/klarna-payments.js"></script>`);
    expect(page.body).toContain('<script src="/demo/checkout.js"></script>');
    const csp = String(page.headers['content-security-policy']);
    expect(csp).toContain(`script-src 'self' ${simulatorUrl}`);
    expect(csp).toContain(`frame-src ${simulatorUrl}`);
    expect(csp).toContain("connect-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    const script = await app.inject({ method: 'GET', url: '/demo/checkout.js' });
    expect(script.headers['content-type']).toMatch(/^application\/javascript/);
    expect(script.body).toContain('Klarna.Payments.authorize');
    // Every other answer keeps the API's deny-all policy.
    expect((await app.inject({ method: 'GET', url: '/health' })).headers['content-security-policy']).toBe("default-src 'none'; frame-ancestors 'none'");
    const openapi = (await app.inject({ method: 'GET', url: '/openapi.json' })).json() as { paths: Record<string, unknown> };
    expect(Object.keys(openapi.paths).filter((p) => p.startsWith('/demo'))).toEqual([]);
  });

  it('takes the bearer token when the API has one', async () => {
    const app = await api({ demo: { simulatorUrl }, authToken: 'demo-token-0123456789abcdef' });
    expect((await app.inject({ method: 'GET', url: '/demo/checkout' })).statusCode).toBe(401);
    expect((await app.inject({ method: 'GET', url: '/demo/checkout', headers: { authorization: 'Bearer demo-token-0123456789abcdef' } })).statusCode).toBe(200);
  });
});
