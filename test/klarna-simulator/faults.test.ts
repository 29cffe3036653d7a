import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { customerToken, expectKlarnaError, sessionBody, tokenOrderBody, useSimulator } from './helpers.js';

// POST /_sim/faults: 5xx, latency, dropped connections, before or after processing.

const c = useSimulator();

const createSession = () => c.klarna('POST', '/payments/v1/sessions', sessionBody());

describe('POST /_sim/faults', () => {
  it('status: a Klarna-shaped 503 for the next `count` matching requests, then normal again', async () => {
    const f = await c.control('POST', '/faults', { path: '/payments/v1/sessions', method: 'POST', status: 503, count: 2 });
    expect(f.status).toBe(200);
    expect(f.body).toMatchObject({ id: expect.any(String), path: '/payments/v1/sessions', status: 503, remaining: 2, phase: 'before' });
    expectKlarnaError(await createSession(), 503, 'SERVICE_UNAVAILABLE');
    expectKlarnaError(await createSession(), 503, 'SERVICE_UNAVAILABLE');
    expect((await createSession()).status).toBe(200);
    // Only the POST matched; nothing was created by the failed calls.
    const faults = (await c.control('GET', '/faults')).body;
    expect(faults[0]).toMatchObject({ matched: 2, remaining: 0 });
    const log = (await c.control('GET', '/requests')).body;
    expect(log.map((r: { status: number; fault?: string }) => [r.status, r.fault])).toEqual([
      [503, 'status'],
      [503, 'status'],
      [200, undefined],
    ]);
  });

  it('matches a glob on the path or the route pattern, and a custom error_code', async () => {
    const { tokenId } = await customerToken(c);
    await c.control('POST', '/faults', { route: '/customer-token/v1/tokens/:token/order', status: 500, count: 1 });
    expectKlarnaError(await c.klarna('POST', `/customer-token/v1/tokens/${tokenId}/order`, tokenOrderBody()), 500, 'INTERNAL_SERVER_ERROR');
    await c.control('POST', '/faults', { path: '/customer-token/**', status: 429, error_code: 'RATE_LIMITED', count: 1 });
    expectKlarnaError(await c.klarna('GET', `/customer-token/v1/tokens/${tokenId}`), 429, 'RATE_LIMITED');
    await c.control('POST', '/faults', { path: '/customer-token/v1/tokens/*', status: 502, count: 1 });
    // `*` stays within one segment: …/order does not match, the token read does.
    expect((await c.klarna('POST', `/customer-token/v1/tokens/${tokenId}/order`, tokenOrderBody())).status).toBe(200);
    expect((await c.klarna('GET', `/customer-token/v1/tokens/${tokenId}`)).status).toBe(502);
  });

  it('latencyMs delays the answer', async () => {
    await c.control('POST', '/faults', { path: '/payments/v1/sessions', latencyMs: 400, count: 1 });
    const started = Date.now();
    expect((await createSession()).status).toBe(200);
    expect(Date.now() - started).toBeGreaterThanOrEqual(380);
  });

  it('drop (before): the connection closes without an answer and nothing is processed', async () => {
    await c.control('POST', '/faults', { path: '/payments/v1/sessions', drop: true, count: 1 });
    await expect(createSession()).rejects.toThrow();
    const log = (await c.control('GET', '/requests')).body;
    expect(log[0]).toMatchObject({ method: 'POST', path: '/payments/v1/sessions', status: null, fault: 'drop' });
    expect((await createSession()).status).toBe(200);
  });

  it('drop after processing: the order is placed but the answer is lost; a retry with the same idempotency key replays it', async () => {
    const { tokenId } = await customerToken(c);
    await c.control('POST', '/faults', { path: '/customer-token/v1/tokens/*/order', drop: true, phase: 'after', count: 1 });
    const key = randomUUID();
    const headers = { 'Klarna-Idempotency-Key': key };
    await expect(c.klarna('POST', `/customer-token/v1/tokens/${tokenId}/order`, tokenOrderBody(), headers)).rejects.toThrow();
    const placed = (await c.control('GET', '/orders')).body;
    expect(placed).toHaveLength(1);
    const retry = await c.klarna('POST', `/customer-token/v1/tokens/${tokenId}/order`, tokenOrderBody(), headers);
    expect(retry.status).toBe(200);
    expect(retry.body.order_id).toBe(placed[0].order_id);
    expect((await c.control('GET', '/orders')).body).toHaveLength(1);
  });

  it('status after processing: the session exists although the caller saw a 500', async () => {
    await c.control('POST', '/faults', { path: '/payments/v1/sessions', status: 500, phase: 'after', count: 1 });
    const headers = { 'Klarna-Idempotency-Key': randomUUID() };
    const r = await c.klarna('POST', '/payments/v1/sessions', sessionBody(), headers);
    expectKlarnaError(r, 500, 'INTERNAL_SERVER_ERROR');
    const log = (await c.control('GET', '/requests')).body;
    expect(log[0]).toMatchObject({ status: 500, fault: 'status-after' });
    // It was processed: the retry with the same key replays the session made then (no new one),
    // and that session can be read.
    const retry = await c.klarna('POST', '/payments/v1/sessions', sessionBody(), headers);
    expect(retry.status).toBe(200);
    expect(retry.headers.get('x-sim-idempotent-replay')).toBe('true');
    const read = await c.klarna('GET', `/payments/v1/sessions/${retry.body.session_id}`);
    expect(read.status).toBe(200);
    expect(read.body).toMatchObject({ merchant_reference1: sessionBody().merchant_reference1, status: 'incomplete' });
  });

  it('without count a fault stays until removed; DELETE one or all', async () => {
    const f = await c.control('POST', '/faults', { path: '/payments/**', status: 500 });
    expect((await createSession()).status).toBe(500);
    expect((await createSession()).status).toBe(500);
    expect((await c.control('DELETE', `/faults/${f.body.id}`)).status).toBe(204);
    expect((await createSession()).status).toBe(200);
    await c.control('POST', '/faults', { path: '/payments/**', status: 500 });
    expect((await c.control('DELETE', '/faults')).status).toBe(204);
    expect((await c.control('GET', '/faults')).body).toEqual([]);
    expect((await createSession()).status).toBe(200);
    expectKlarnaError(await c.control('DELETE', '/faults/nope'), 404, 'NOT_FOUND');
  });

  it('400 for a rule with no path, or with nothing to do; controls themselves are never faulted', async () => {
    expectKlarnaError(await c.control('POST', '/faults', { status: 500 }), 400, 'BAD_VALUE');
    expectKlarnaError(await c.control('POST', '/faults', { path: '/payments/**' }), 400, 'BAD_VALUE');
    await c.control('POST', '/faults', { path: '/**', status: 500 });
    expect((await c.control('GET', '/clock')).status).toBe(200);
  });

  it('rate: hits that fraction of matching requests, evenly and deterministically (0.5 = every second); with count it stops', async () => {
    const f = await c.control('POST', '/faults', { path: '/payments/v1/sessions', method: 'POST', status: 503, rate: 0.5, count: 2 });
    expect(f.body).toMatchObject({ rate: 0.5, remaining: 2, seen: 0 });
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) statuses.push((await createSession()).status);
    expect(statuses).toEqual([200, 503, 200, 503, 200, 200]);
    expect((await c.control('GET', '/faults')).body[0]).toMatchObject({ matched: 2, remaining: 0 });
    expectKlarnaError(await c.control('POST', '/faults', { path: '/**', status: 500, rate: 0 }), 400, 'BAD_VALUE');
    expectKlarnaError(await c.control('POST', '/faults', { path: '/**', status: 500, rate: 1.5 }), 400, 'BAD_VALUE');
  });

  it('an after-phase status fault on a v2 path answers in the v2 error shape', async () => {
    await c.control('POST', '/faults', { path: '/v2/payment/requests', status: 503, phase: 'after', count: 1 });
    const r = await c.klarna('POST', '/v2/payment/requests', { currency: 'USD', amount: 1 });
    expect(r.status).toBe(503);
    expect(r.body).toEqual({ error_id: r.headers.get('klarna-correlation-id'), error_type: 'TECHNICAL_ERROR', error_code: 'SERVICE_UNAVAILABLE', error_message: expect.any(String) });
  });

  it('credentials are checked before faults', async () => {
    await c.control('POST', '/faults', { path: '/**', status: 500 });
    expectKlarnaError(await c.raw('POST', '/payments/v1/sessions', sessionBody(), {}, null), 401, 'UNAUTHORIZED');
  });
});
