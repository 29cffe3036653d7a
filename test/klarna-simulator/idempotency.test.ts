import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { authorizedSession, customerToken, customerTokenBody, expectKlarnaError, sessionBody, tokenOrderBody, until, useSimulator } from './helpers.js';

// Klarna-Idempotency-Key on every Klarna POST/PATCH (facts §5), beyond the token-order cases.

const c = useSimulator();

const withKey = (key: string) => ({ 'Klarna-Idempotency-Key': key });

describe('Klarna-Idempotency-Key on other calls', () => {
  it('session creation: a replay returns the same session; without a key each call is a new session', async () => {
    const key = randomUUID();
    const a = await c.klarna('POST', '/payments/v1/sessions', sessionBody(), withKey(key));
    const b = await c.klarna('POST', '/payments/v1/sessions', sessionBody(), withKey(key));
    expect(b.status).toBe(200);
    expect(b.body).toEqual(a.body);
    expect(b.headers.get('x-sim-idempotent-replay')).toBe('true');
    const c1 = await c.klarna('POST', '/payments/v1/sessions', sessionBody());
    expect(c1.body.session_id).not.toBe(a.body.session_id);
  });

  it('customer-token creation: a retry after a lost answer gets the same token instead of "already consumed"', async () => {
    const { authorizationToken, sessionId } = await authorizedSession(c);
    const key = randomUUID();
    await c.control('POST', '/faults', { path: '/payments/v1/authorizations/*/customer-token', drop: true, phase: 'after', count: 1 });
    await expect(
      c.klarna('POST', `/payments/v1/authorizations/${authorizationToken}/customer-token`, customerTokenBody(), withKey(key)),
    ).rejects.toThrow();
    const retry = await c.klarna('POST', `/payments/v1/authorizations/${authorizationToken}/customer-token`, customerTokenBody(), withKey(key));
    expect(retry.status).toBe(200);
    const authorizations = (await c.control('GET', `/sessions/${sessionId}`)).body.authorizations;
    expect(authorizations).toEqual([expect.objectContaining({ authorization_token: authorizationToken, customer_token_id: retry.body.token_id })]);
    // Without the key the same call is refused: the authorization is consumed.
    expectKlarnaError(
      await c.klarna('POST', `/payments/v1/authorizations/${authorizationToken}/customer-token`, customerTokenBody()),
      403,
      'INVALID_OPERATION',
    );
  });

  it('PATCH token status: 202 replayed; empty body kept empty', async () => {
    const { tokenId } = await customerToken(c);
    const key = randomUUID();
    const a = await c.klarna('PATCH', `/customer-token/v1/tokens/${tokenId}/status`, { status: 'CANCELLED' }, withKey(key));
    const b = await c.klarna('PATCH', `/customer-token/v1/tokens/${tokenId}/status`, { status: 'CANCELLED' }, withKey(key));
    expect([a.status, b.status]).toEqual([202, 202]);
    expect(b.text).toBe('');
    expect(b.headers.get('x-sim-idempotent-replay')).toBe('true');
  });

  it('a key is per merchant request: a different path with the same key is a 409 conflict', async () => {
    const key = randomUUID();
    expect((await c.klarna('POST', '/payments/v1/sessions', sessionBody(), withKey(key))).status).toBe(200);
    const { tokenId } = await customerToken(c);
    expectKlarnaError(await c.klarna('POST', `/customer-token/v1/tokens/${tokenId}/order`, tokenOrderBody(), withKey(key)), 409, 'BAD_VALUE');
  });

  it('a retry sent while the first answer is still on its way is a replay of it (one order)', async () => {
    const { tokenId } = await customerToken(c);
    await c.control('POST', '/faults', { path: '/customer-token/v1/tokens/*/order', latencyMs: 1_000, phase: 'after', count: 1 });
    const key = randomUUID();
    const first = c.klarna('POST', `/customer-token/v1/tokens/${tokenId}/order`, tokenOrderBody(), withKey(key));
    // The first is processed (its order exists) and its answer held back: only then the retry.
    const [placed] = await until(async () => {
      const orders = (await c.control('GET', '/orders')).body as { order_id: string }[];
      return orders.length ? orders : undefined;
    }, 'the first order');
    const retry = await c.klarna('POST', `/customer-token/v1/tokens/${tokenId}/order`, tokenOrderBody(), withKey(key));
    expect(retry.status).toBe(200);
    expect(retry.headers.get('x-sim-idempotent-replay')).toBe('true');
    expect(retry.body.order_id).toBe(placed!.order_id);
    const a = await first;
    expect(a.status).toBe(200);
    expect(a.headers.get('x-sim-idempotent-replay')).toBeNull();
    expect(a.body.order_id).toBe(placed!.order_id);
    expect((await c.control('GET', '/orders')).body).toHaveLength(1);
  });

  it('GET and DELETE ignore the header', async () => {
    const { authorizationToken, sessionId } = await authorizedSession(c, { intent: 'buy' });
    const key = randomUUID();
    expect((await c.klarna('GET', `/payments/v1/sessions/${sessionId}`, undefined, withKey(key))).status).toBe(200);
    expect((await c.klarna('DELETE', `/payments/v1/authorizations/${authorizationToken}`, undefined, withKey(key))).status).toBe(204);
    expect((await c.klarna('DELETE', `/payments/v1/authorizations/${authorizationToken}`, undefined, withKey(key))).status).toBe(404);
  });
});
