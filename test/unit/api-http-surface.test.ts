import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { apiErrorBody } from '../../api/errors.js';
import { buildApiWithoutServers } from '../../stack/api-without-servers.js';

// What every answer of the API shares, whoever wrote the route: one error shape (Fastify's own
// 404/405/413/415, over-long path parameters and malformed JSON included), safe headers, bearer tokens with rotation,
// rate limits with 429 + Retry-After. On the real API (buildApi) over a real socket, with
// stand-ins for Temporal and MongoDB that these requests never reach.

const tokenA = 'token-a-0123456789abcdefghij';
const tokenB = 'token-b-0123456789abcdefghij';
const strictErrorBody = apiErrorBody.strict();

async function call(base: string, method: string, path: string, init: { body?: string; headers?: Record<string, string> } = {}) {
  const response = await fetch(`${base}${path}`, { method, body: init.body, headers: init.headers });
  const text = await response.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: response.status, headers: response.headers, text, json: json as Record<string, unknown> | undefined };
}

/** The body is the API's error shape and nothing else: no framework code, status field or stack. */
function expectErrorShape(r: Awaited<ReturnType<typeof call>>, status: number, error: string) {
  expect(r.status, r.text).toBe(status);
  expect(r.headers.get('content-type')).toMatch(/^application\/json/);
  expect(strictErrorBody.safeParse(r.json).success, r.text).toBe(true);
  expect(r.json?.error).toBe(error);
  expect(r.text).not.toMatch(/FST_|statusCode|"stack"|at .*\.js:\d+/);
  expect(r.headers.get('x-content-type-options')).toBe('nosniff');
  expect(r.headers.get('cache-control')).toBe('no-store');
}

/** Raw bytes to the API's socket; the whole answer back. */
function raw(url: string, request: string): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname, () => socket.end(request));
    let answer = '';
    socket.on('data', (chunk) => (answer += chunk.toString('latin1')));
    socket.on('close', () => resolve(answer));
    socket.on('error', reject);
  });
}

describe('error answers, all in one shape', () => {
  let app: FastifyInstance;
  let base: string;
  const auth = { authorization: `Bearer ${tokenA}` };
  beforeAll(async () => {
    app = await buildApiWithoutServers({ authToken: tokenA });
    base = await app.listen({ host: '127.0.0.1', port: 0 });
  });
  afterAll(async () => app?.close());

  it('404 for an unknown route', async () => {
    expectErrorShape(await call(base, 'GET', '/v1/nothing-here', { headers: auth }), 404, 'not_found');
  });

  it('405 with Allow for a method a path does not take, also for unusual methods', async () => {
    const r = await call(base, 'DELETE', '/v1/tokenizations', { headers: auth });
    expectErrorShape(r, 405, 'method_not_allowed');
    expect(r.headers.get('allow')).toBe('POST');
    const get = await call(base, 'PUT', '/v1/tokenizations/tokenize-abc', { headers: auth });
    expectErrorShape(get, 405, 'method_not_allowed');
    expect(get.headers.get('allow')).toBe('GET, HEAD');
    // QUERY is a body method: Fastify checks its Content-Type before looking for a route.
    const query = await raw(base, 'QUERY /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    expect(query).toMatch(/^HTTP\/1\.1 405 /);
    expect(query).toMatch(/\r\nallow: GET, HEAD\r\n/i);
    expect(query).toContain('"error":"method_not_allowed"');
  });

  it('413 for a body over the limit (1 MiB)', async () => {
    const body = JSON.stringify({ merchant_reference: 'x'.repeat(1_100_000) });
    const r = await call(base, 'POST', '/v1/tokenizations', { body, headers: { ...auth, 'content-type': 'application/json' } });
    expectErrorShape(r, 413, 'payload_too_large');
    expect(r.json?.message).toContain('1048576 bytes');
  });

  it('400 naming the path parameter when it is longer than any id (the router refuses it before the route)', async () => {
    expectErrorShape(await call(base, 'GET', `/v1/tokenizations/tokenize-${'a'.repeat(300)}`, { headers: auth }), 400, 'invalid_request');
  });

  it('415 for a body that is not JSON', async () => {
    const r = await call(base, 'POST', '/v1/tokenizations', { body: 'a=b', headers: { ...auth, 'content-type': 'application/x-www-form-urlencoded' } });
    expectErrorShape(r, 415, 'unsupported_media_type');
  });

  it('400 for malformed JSON, an empty JSON body and a URL that does not decode; __proto__ keys are dropped', async () => {
    const json = { ...auth, 'content-type': 'application/json' };
    const malformed = await call(base, 'POST', '/v1/tokenizations', { body: '{"merchant_reference": ', headers: json });
    expectErrorShape(malformed, 400, 'invalid_request');
    expect(malformed.json?.message).toBe('The body is not valid JSON.');
    expectErrorShape(await call(base, 'POST', '/v1/tokenizations', { body: '', headers: json }), 400, 'invalid_request');
    // A __proto__ key is dropped like any undeclared property: what is left is judged by the schema.
    const poisoned = await call(base, 'POST', '/v1/tokenizations', { body: '{"__proto__": {"x": 1}, "merchant_reference": "r"}', headers: json });
    expectErrorShape(poisoned, 400, 'invalid_request');
    expect((poisoned.json?.issues as { field: string }[]).map((i) => i.field)).not.toContain('body.__proto__');
    expectErrorShape(await call(base, 'GET', '/v1/tokenizations/%E0%A4%A', { headers: auth }), 400, 'invalid_request');
  });

  it("400 for what Node's HTTP parser refuses, 431 for oversized headers, in the same shape", async () => {
    const garbage = await raw(base, 'THIS IS NOT HTTP\r\n\r\n');
    expect(garbage).toMatch(/^HTTP\/1\.1 400 /);
    expect(garbage).toMatch(/\r\nX-Content-Type-Options: nosniff\r\n/);
    expect(strictErrorBody.parse(JSON.parse(garbage.split('\r\n\r\n')[1]!))).toMatchObject({ error: 'invalid_request' });
    const huge = await raw(base, `GET /health HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`);
    expect(huge).toMatch(/^HTTP\/1\.1 431 /);
    expect(strictErrorBody.parse(JSON.parse(huge.split('\r\n\r\n')[1]!))).toMatchObject({ error: 'headers_too_large' });
  });

  it('400 naming the field for schema violations; 401 for a missing token', async () => {
    const bad = await call(base, 'GET', '/v1/flows?limit=0', { headers: auth });
    expectErrorShape(bad, 400, 'invalid_request');
    expect(bad.json?.issues).toEqual([expect.objectContaining({ field: 'querystring.limit' })]);
    const none = await call(base, 'GET', '/v1/flows');
    expectErrorShape(none, 401, 'unauthorized');
    expect(none.headers.get('www-authenticate')).toBe('Bearer');
  });
});

describe('authentication', () => {
  it('takes any of several bearer tokens (rotation), compares them all, and leaves callbacks to their own secret', async () => {
    const app = await buildApiWithoutServers({ authToken: [tokenA, tokenB] });
    try {
      for (const token of [tokenA, tokenB]) {
        const r = await app.inject({ method: 'GET', url: '/v1/flows', headers: { authorization: `Bearer ${token}` } });
        expect(r.statusCode).toBe(200);
        expect(r.json()).toEqual({ flows: [] });
      }
      for (const header of [`Bearer ${tokenA}x`, `bearer ${tokenA}`, tokenA, 'Bearer ']) {
        expect((await app.inject({ method: 'GET', url: '/v1/flows', headers: { authorization: header } })).statusCode).toBe(401);
      }
      // A bearer token is no callback credential, and a callback needs no bearer token.
      const callback = await app.inject({
        method: 'POST',
        url: '/klarna/callbacks/authorization/tokenize-abc?secret=wrong',
        payload: { authorization_token: 't', session_id: 's' },
        headers: { authorization: `Bearer ${tokenA}` },
      });
      expect(callback.statusCode).toBe(401);
      expect(callback.json()).toEqual({ error: 'unauthorized', message: 'Wrong or missing callback secret.' });
      // Docs and health are open by default.
      expect((await app.inject({ method: 'GET', url: '/openapi.json' })).statusCode).toBe(200);
      expect((await app.inject({ method: 'GET', url: '/health' })).statusCode).toBe(200);
    } finally {
      await app.close();
    }
  });

  it('protects docs and health when asked (API_DOCS_AUTH, API_HEALTH_AUTH)', async () => {
    const app = await buildApiWithoutServers({ authToken: tokenA, docsAuth: true, healthAuth: true });
    try {
      for (const url of ['/openapi.json', '/docs', '/health', '/ready']) {
        const r = await app.inject({ method: 'GET', url });
        expect(r.statusCode, url).toBe(401);
        expect(r.json()).toMatchObject({ error: 'unauthorized' });
      }
      expect((await app.inject({ method: 'GET', url: '/health', headers: { authorization: `Bearer ${tokenA}` } })).statusCode).toBe(200);
      expect((await app.inject({ method: 'GET', url: '/openapi.json', headers: { authorization: `Bearer ${tokenA}` } })).statusCode).toBe(200);
    } finally {
      await app.close();
    }
  });

  it('authenticates a checkout route added by anyone, by its path, without it asking', async () => {
    const app = await buildApiWithoutServers({ authToken: tokenA });
    try {
      app.get('/v1/added-later', async () => ({ ok: true }));
      expect((await app.inject({ method: 'GET', url: '/v1/added-later' })).statusCode).toBe(401);
      expect((await app.inject({ method: 'GET', url: '/v1/added-later', headers: { authorization: `Bearer ${tokenA}` } })).statusCode).toBe(200);
    } finally {
      await app.close();
    }
  });
});

describe('headers', () => {
  it('nosniff on every answer; no-store and a deny-all CSP on every API answer', async () => {
    const app = await buildApiWithoutServers({ authToken: tokenA });
    try {
      const auth = { authorization: `Bearer ${tokenA}` };
      for (const [url, headers] of [['/v1/flows', auth], ['/v1/flows', {}], ['/health', {}], ['/openapi.json', {}], ['/nowhere', {}]] as const) {
        const r = await app.inject({ method: 'GET', url, headers });
        expect(r.headers['x-content-type-options'], url).toBe('nosniff');
        expect(r.headers['cache-control'], url).toBe('no-store');
        expect(r.headers['content-security-policy'], url).toBe("default-src 'none'; frame-ancestors 'none'");
      }
      const docs = await app.inject({ method: 'GET', url: '/docs/static/index.html' });
      expect(docs.headers['x-content-type-options']).toBe('nosniff');
    } finally {
      await app.close();
    }
  });
});

describe('rate limits', () => {
  const limits = { checkoutPerMinute: 3, callbacksPerMinute: 2, unauthenticatedPerMinute: 4 };

  it('limits each caller (by token) on checkout routes: 429 + Retry-After in the error shape', async () => {
    const app = await buildApiWithoutServers({ authToken: [tokenA, tokenB], rateLimits: limits });
    try {
      const get = (token: string) => app.inject({ method: 'GET', url: '/v1/flows', headers: { authorization: `Bearer ${token}` } });
      for (let i = 0; i < 3; i++) expect((await get(tokenA)).statusCode).toBe(200);
      const limited = await get(tokenA);
      expect(limited.statusCode).toBe(429);
      expect(strictErrorBody.parse(limited.json())).toMatchObject({ error: 'rate_limited' });
      expect(Number(limited.headers['retry-after'])).toBeGreaterThanOrEqual(1);
      expect(Number(limited.headers['retry-after'])).toBeLessThanOrEqual(60);
      // Another caller has its own allowance.
      expect((await get(tokenB)).statusCode).toBe(200);
    } finally {
      await app.close();
    }
  });

  it('limits callbacks per source, and stops a source that keeps failing authentication', async () => {
    const app = await buildApiWithoutServers({ authToken: tokenA, rateLimits: limits });
    try {
      const callback = () =>
        app.inject({ method: 'POST', url: '/klarna/callbacks/authorization/tokenize-abc?secret=wrong', payload: { authorization_token: 't', session_id: 's' } });
      expect((await callback()).statusCode).toBe(401);
      expect((await callback()).statusCode).toBe(401);
      const perSource = await callback();
      expect(perSource.statusCode).toBe(429);
      expect(perSource.json()).toMatchObject({ error: 'rate_limited' });
      // Two more wrong tokens make four failures: the address is stopped, even with a good token.
      for (let i = 0; i < 2; i++) expect((await app.inject({ method: 'GET', url: '/v1/flows', headers: { authorization: 'Bearer wrong' } })).statusCode).toBe(401);
      const stopped = await app.inject({ method: 'GET', url: '/v1/flows', headers: { authorization: `Bearer ${tokenA}` } });
      expect(stopped.statusCode).toBe(429);
      expect(stopped.json().message).toMatch(/^Too many failed authentications from this address; retry in \d+ s\.$/);
      expect(stopped.headers['retry-after']).toBeDefined();
      // Health stays reachable for load balancers sharing the address.
      expect((await app.inject({ method: 'GET', url: '/health' })).statusCode).toBe(200);
    } finally {
      await app.close();
    }
  });

  it('has no limits when none are configured (tests, benchmarks)', async () => {
    const app = await buildApiWithoutServers({});
    try {
      for (let i = 0; i < 50; i++) expect((await app.inject({ method: 'GET', url: '/v1/flows' })).statusCode).toBe(200);
    } finally {
      await app.close();
    }
  });
});

describe('OpenAPI contract of a route added later', () => {
  it('gets an operationId, security, tag and its error answers without asking', async () => {
    const app = await buildApiWithoutServers({ authToken: tokenA });
    try {
      app.post('/v1/widgets/:widget_id/frobnicate', { schema: { params: z.object({ widget_id: z.string() }), body: z.object({ n: z.number() }) } }, async () => ({}));
      const doc = (await app.inject({ method: 'GET', url: '/openapi.json' })).json();
      const operation = doc.paths['/v1/widgets/{widget_id}/frobnicate'].post;
      expect(operation.operationId).toBe('postV1WidgetsByWidgetIdFrobnicate');
      expect(operation.security).toEqual([{ bearerAuth: [] }]);
      expect(operation.tags).toEqual(['checkout']);
      expect(Object.keys(operation.responses).sort()).toEqual(['400', '401', '404', '413', '415', '429', '503']);
      expect(operation.responses['429'].headers['Retry-After']).toBeDefined();
    } finally {
      await app.close();
    }
  });
});
