import { afterEach, describe, expect, it } from 'vitest';
import { buildKlarnaSimulator } from '../../klarna-simulator/server.js';
import { basicAuth, call, credentials, expectCorrelationId, expectKlarnaError, sessionBody, startReceiver, startSim, until, useSimulator, type ReceiverAnswer } from './helpers.js';

// The /_sim controls: shopper authorization and its callback, purchase page, request log, clock, reset.

const c = useSimulator({ callbackRetryBaseMs: 100 });
const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (closers.length) await closers.pop()!();
});

/** A merchant endpoint for one test, closed after it. */
async function receiver(answer?: ReceiverAnswer) {
  const merchant = await startReceiver(answer);
  closers.push(merchant.close);
  return merchant;
}

async function newSession(overrides: Record<string, unknown> = {}) {
  const r = await c.klarna('POST', '/payments/v1/sessions', sessionBody(overrides));
  expect(r.status).toBe(200);
  return r.body.session_id as string;
}

describe('POST /_sim/sessions/{id}/authorize', () => {
  it('approve (the default) → 200 {approved, authorization_token, session_id, expires_at 60 min ahead}; no Basic auth needed', async () => {
    const id = await newSession();
    const r = await c.control('POST', `/sessions/${id}/authorize`);
    expect(r.status).toBe(200);
    expectCorrelationId(r);
    expect(r.body).toEqual({ approved: true, authorization_token: expect.stringMatching(/^[0-9a-f-]{36}$/), session_id: id, expires_at: expect.any(String) });
    // Exactly 60 minutes after the authorization, on the simulator clock.
    const [authorization] = (await c.control('GET', `/sessions/${id}`)).body.authorizations;
    expect(authorization).toMatchObject({ authorization_token: r.body.authorization_token, expires_at: r.body.expires_at });
    expect(Date.parse(r.body.expires_at) - Date.parse(authorization.authorized_at)).toBe(60 * 60_000);
    const now = (await c.control('GET', '/clock')).body.now;
    expect(Date.parse(r.body.expires_at) - Date.parse(now)).toBeGreaterThan(59 * 60_000);
    expect(Date.parse(r.body.expires_at) - Date.parse(now)).toBeLessThanOrEqual(60 * 60_000);
  });

  it('decline → 200 {approved:false} and no token', async () => {
    const id = await newSession();
    const r = await c.control('POST', `/sessions/${id}/authorize`, { outcome: 'decline' });
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ approved: false, session_id: id, reason: 'shopper_declined' });
    expect((await c.klarna('GET', `/payments/v1/sessions/${id}`)).body.authorization_token).toBeUndefined();
  });

  it('playground trigger: billing email customer+denied@… declines unless an outcome is given', async () => {
    const id = await newSession({ billing_address: { email: 'customer+denied@email.se', country: 'SE' } });
    expect((await c.control('POST', `/sessions/${id}/authorize`)).body.approved).toBe(false);
    expect((await c.control('POST', `/sessions/${id}/authorize`, { outcome: 'approve' })).body.approved).toBe(true);
  });

  it('playground triggers: customer+reject_reason_…@ declines; customer+pend-accept-MM@ authorizes with fraud_status PENDING', async () => {
    const rejected = await newSession({ billing_address: { email: 'customer+reject_reason_credit_limit@email.us', country: 'SE' } });
    expect((await c.control('POST', `/sessions/${rejected}/authorize`)).body.approved).toBe(false);
    const billing = { email: 'customer+pend-accept-05@email.se', country: 'SE' };
    const pending = await newSession({ intent: 'buy', billing_address: billing });
    const auth = await c.control('POST', `/sessions/${pending}/authorize`);
    const { intent: _i, ...order } = sessionBody({ billing_address: billing });
    const placed = await c.klarna('POST', `/payments/v1/authorizations/${auth.body.authorization_token}/order`, order);
    expect(placed.body.fraud_status).toBe('PENDING');
  });

  it('404 for an unknown or expired session; 400 for a bad outcome; 409 once the session has an order', async () => {
    expectKlarnaError(await c.control('POST', '/sessions/nope/authorize', {}), 404, 'NOT_FOUND');
    const id = await newSession({ intent: 'buy' });
    expectKlarnaError(await c.control('POST', `/sessions/${id}/authorize`, { outcome: 'maybe' }), 400, 'BAD_VALUE');
    const auth = await c.control('POST', `/sessions/${id}/authorize`, {});
    const { intent: _i, ...order } = sessionBody();
    expect((await c.klarna('POST', `/payments/v1/authorizations/${auth.body.authorization_token}/order`, order)).status).toBe(200);
    expectKlarnaError(await c.control('POST', `/sessions/${id}/authorize`, {}), 409, 'SESSION_COMPLETED');
    const old = await newSession();
    await c.control('POST', '/clock/advance', { seconds: 48 * 3600 });
    expectKlarnaError(await c.control('POST', `/sessions/${old}/authorize`, {}), 404, 'NOT_FOUND');
  });
});

describe('authorization callback to merchant_urls.authorization', () => {
  it('POSTs {authorization_token, session_id} as JSON, query secret kept; recorded in /_sim/callbacks', async () => {
    const merchant = await receiver();
    const id = await newSession({ merchant_urls: { authorization: `${merchant.url}/cb/flow-1?secret=s3cret` } });
    const auth = await c.control('POST', `/sessions/${id}/authorize`, {});
    await until(async () => (merchant.received.length ? true : undefined), 'the callback');
    expect(merchant.received[0]).toMatchObject({ url: '/cb/flow-1?secret=s3cret', body: { authorization_token: auth.body.authorization_token, session_id: id } });
    const deliveries = await until(async () => {
      const r = await c.control('GET', '/callbacks');
      return r.body[0]?.state === 'delivered' ? r.body : undefined;
    }, 'the delivery record');
    expect(deliveries).toEqual([
      {
        id: auth.body.callback_id,
        kind: 'authorization',
        url: `${merchant.url}/cb/flow-1?secret=s3cret`,
        body: { authorization_token: auth.body.authorization_token, session_id: id },
        state: 'delivered',
        attempts: [{ at: expect.any(String), status: 200 }],
      },
    ]);
  });

  it('does not wait for the merchant: the control answers while the callback is still in flight', async () => {
    const merchant = await receiver(() => ({ status: 200, delayMs: 1_500 }));
    const id = await newSession({ merchant_urls: { authorization: `${merchant.url}/cb` } });
    const started = Date.now();
    const r = await c.control('POST', `/sessions/${id}/authorize`, {});
    expect(r.status).toBe(200);
    expect(Date.now() - started).toBeLessThan(1_000);
  });

  it('retries a failing merchant up to 3 attempts with exponential backoff, then gives up', async () => {
    const merchant = await receiver(() => ({ status: 500 }));
    const id = await newSession({ merchant_urls: { authorization: `${merchant.url}/cb` } });
    await c.control('POST', `/sessions/${id}/authorize`, {});
    const [delivery] = await until(async () => {
      const r = await c.control('GET', '/callbacks');
      return r.body[0]?.state === 'failed' ? r.body : undefined;
    }, 'the delivery to fail');
    expect(delivery.attempts).toEqual([
      { at: expect.any(String), status: 500 },
      { at: expect.any(String), status: 500 },
      { at: expect.any(String), status: 500 },
    ]);
    expect(merchant.received).toHaveLength(3);
    // Backoff base 100 ms in this suite (Klarna: 1 s): gaps ≈ 100 ms then ≈ 200 ms.
    const gaps = [merchant.received[1]!.at - merchant.received[0]!.at, merchant.received[2]!.at - merchant.received[1]!.at];
    expect(gaps[0]).toBeGreaterThanOrEqual(90);
    expect(gaps[1]).toBeGreaterThanOrEqual(190);
  });

  it('stops retrying once the merchant answers 2xx, and records connection errors', async () => {
    const merchant = await receiver((n) => ({ status: n < 2 ? 503 : 204 }));
    const id = await newSession({ merchant_urls: { authorization: `${merchant.url}/cb` } });
    await c.control('POST', `/sessions/${id}/authorize`, {});
    const [delivery] = await until(async () => {
      const r = await c.control('GET', '/callbacks');
      return r.body[0]?.state === 'delivered' ? r.body : undefined;
    }, 'the delivery');
    expect(delivery.attempts.map((a: { status?: number }) => a.status)).toEqual([503, 204]);

    const dead = await newSession({ merchant_urls: { authorization: 'http://127.0.0.1:9/cb' } });
    await c.control('POST', `/sessions/${dead}/authorize`, {});
    const failed = await until(async () => {
      const r = await c.control('GET', '/callbacks');
      const d = r.body.find((x: { url: string }) => x.url.startsWith('http://127.0.0.1:9/'));
      return d?.state === 'failed' ? d : undefined;
    }, 'the unreachable delivery to fail');
    expect(failed.attempts).toHaveLength(3);
    expect(failed.attempts[0]).toEqual({ at: expect.any(String), error: expect.any(String) });
  });

  it('a re-authorization sends a new callback with a different token; redeliver sends a duplicate', async () => {
    const merchant = await receiver();
    const id = await newSession({ merchant_urls: { authorization: `${merchant.url}/cb` } });
    const first = await c.control('POST', `/sessions/${id}/authorize`, {});
    const second = await c.control('POST', `/sessions/${id}/authorize`, {});
    await until(async () => (merchant.received.length === 2 ? true : undefined), 'two callbacks');
    expect(merchant.received.map((r) => r.body.authorization_token).sort()).toEqual(
      [first.body.authorization_token, second.body.authorization_token].sort(),
    );
    const again = await c.control('POST', `/callbacks/${first.body.callback_id}/redeliver`);
    expect(again.status).toBe(200);
    await until(async () => (merchant.received.length === 3 ? true : undefined), 'the duplicate');
    expect(merchant.received[2]!.body).toEqual({ authorization_token: first.body.authorization_token, session_id: id });
  });

  it('scenarios: callback "skip" sends nothing; callback_delay_ms sends it late', async () => {
    const merchant = await receiver();
    const id = await newSession({ merchant_urls: { authorization: `${merchant.url}/cb` } });
    const skipped = await c.control('POST', `/sessions/${id}/authorize`, { callback: 'skip' });
    expect(skipped.body.callback_id).toBeUndefined();
    const started = Date.now();
    const late = await c.control('POST', `/sessions/${id}/authorize`, { callback_delay_ms: 300 });
    expect(late.body.callback_id).toEqual(expect.any(String));
    await until(async () => (merchant.received.length ? true : undefined), 'the late callback');
    expect(merchant.received[0]!.at - started).toBeGreaterThanOrEqual(280);
    expect(merchant.received).toHaveLength(1);
    expect(merchant.received[0]!.body.authorization_token).toBe(late.body.authorization_token);
  });

  it('no callback without merchant_urls.authorization', async () => {
    const id = await newSession();
    const r = await c.control('POST', `/sessions/${id}/authorize`, {});
    expect(r.body.callback_id).toBeUndefined();
    expect((await c.control('GET', '/callbacks')).body).toEqual([]);
  });
});

describe('GET /_sim/purchase/{session_id}', () => {
  it('serves the shopper page with the cart and Approve / Decline buttons wired to the control', async () => {
    const id = await newSession();
    const r = await c.raw('GET', `/_sim/purchase/${id}`);
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toMatch(/^text\/html/);
    expect(r.text).toContain(id);
    expect(r.text).toContain('Coffee subscription, monthly');
    expect(r.text).toContain('199.00 SEK');
    expect(r.text).toMatch(/<button id="approve"[^>]*>Approve<\/button>/);
    expect(r.text).toMatch(/<button id="decline"[^>]*>Decline<\/button>/);
    expect(r.text).toContain(`/_sim/sessions/${id}/authorize`);
    expect(r.text).toContain('authorization-token');
  });

  it('404 page for an unknown session; HTML is escaped', async () => {
    expect((await c.raw('GET', '/_sim/purchase/nope')).status).toBe(404);
    const id = await newSession({ order_lines: [{ name: '<script>x</script>', quantity: 1, unit_price: 19900, total_amount: 19900 }] });
    const r = await c.raw('GET', `/_sim/purchase/${id}`);
    expect(r.text).not.toContain('<script>x</script>');
    expect(r.text).toContain('&lt;script&gt;x&lt;/script&gt;');
  });
});

describe('GET /_sim/requests', () => {
  it('records Klarna-path requests {method, path, status, body, at, correlation_id}, never the Authorization header; not controls', async () => {
    const created = await c.klarna('POST', '/payments/v1/sessions', sessionBody());
    await c.klarna('GET', `/payments/v1/sessions/${created.body.session_id}?x=1`);
    await c.raw('GET', '/payments/v1/sessions/abc', undefined, {}, null);
    const r = await c.control('GET', '/requests');
    expect(r.status).toBe(200);
    expect(r.body).toHaveLength(3);
    expect(r.body[0]).toMatchObject({
      method: 'POST',
      path: '/payments/v1/sessions',
      status: 200,
      body: sessionBody(),
      at: expect.any(String),
      correlation_id: created.headers.get('klarna-correlation-id'),
    });
    expect(r.body[1]).toMatchObject({ method: 'GET', path: `/payments/v1/sessions/${created.body.session_id}`, status: 200 });
    expect(r.body[2]).toMatchObject({ method: 'GET', status: 401 });
    expect(JSON.stringify(r.body)).not.toContain(basicAuth.slice(6));
    expect(JSON.stringify(r.body)).not.toContain(credentials.password);
    const filtered = await c.control('GET', '/requests?method=post&path_prefix=/payments/v1/sessions');
    expect(filtered.body).toHaveLength(1);
  });
});

describe('inspection and token controls', () => {
  it('GET /_sim/sessions/{id}: the session plus session_id, order_id, expired and its authorizations; 404 unknown', async () => {
    const id = await newSession({ intent: 'buy_and_tokenize' });
    const a = await c.control('POST', `/sessions/${id}/authorize`, { payment_method_type: 'INVOICE', fraud_status: 'PENDING' });
    const token = await c.klarna('POST', `/payments/v1/authorizations/${a.body.authorization_token}/customer-token`, {
      purchase_country: 'SE', purchase_currency: 'SEK', locale: 'sv-SE', description: 'd', intended_use: 'SUBSCRIPTION',
    });
    expect(token.status).toBe(200);
    const r = await c.control('GET', `/sessions/${id}`);
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({
      session_id: id,
      intent: 'buy_and_tokenize',
      status: 'incomplete',
      expired: false,
      authorizations: [
        {
          authorization_token: a.body.authorization_token,
          authorized_at: new Date(Date.parse(a.body.expires_at) - 60 * 60_000).toISOString(),
          expires_at: a.body.expires_at,
          payment_method_type: 'INVOICE',
          fraud_status: 'PENDING',
          customer_token_id: token.body.token_id,
          released: false,
        },
      ],
    });
    await c.control('POST', '/clock/advance', { seconds: 48 * 3600 });
    expect((await c.control('GET', `/sessions/${id}`)).body.expired).toBe(true);
    expectKlarnaError(await c.control('GET', '/sessions/nope'), 404, 'NOT_FOUND');
  });

  it('GET /_sim/orders lists every order with its source, request body and answer', async () => {
    const id = await newSession({ intent: 'buy' });
    const a = await c.control('POST', `/sessions/${id}/authorize`, {});
    const { intent: _i, ...order } = sessionBody();
    const placed = await c.klarna('POST', `/payments/v1/authorizations/${a.body.authorization_token}/order`, order);
    const orders = await c.control('GET', '/orders');
    expect(orders.body).toEqual([
      expect.objectContaining({ order_id: placed.body.order_id, source: 'authorization', session_id: id, authorization_token: a.body.authorization_token, order_amount: 19900, purchase_currency: 'SEK', response: placed.body }),
    ]);
  });

  it('token controls: 404 for an unknown token, 400 for a bad body, payment-method type change', async () => {
    expectKlarnaError(await c.control('GET', '/tokens/nope'), 404, 'NOT_FOUND');
    expectKlarnaError(await c.control('POST', '/tokens/nope/status', { status: 'SUSPENDED' }), 404, 'NOT_FOUND');
    expectKlarnaError(await c.control('POST', '/tokens/nope/payment-method', { failing: true }), 404, 'NOT_FOUND');
    expectKlarnaError(await c.control('POST', '/tokens', { status: 'EXPIRED' }), 400, 'BAD_VALUE');
    const t = (await c.control('POST', '/tokens', {})).body.token_id;
    expectKlarnaError(await c.control('POST', `/tokens/${t}/status`, { status: 'GONE' }), 400, 'BAD_VALUE');
    const changed = await c.control('POST', `/tokens/${t}/payment-method`, { type: 'DIRECT_DEBIT' });
    expect(changed.body).toEqual({ token_id: t, payment_method_type: 'DIRECT_DEBIT', failing: false });
    expect((await c.klarna('GET', `/customer-token/v1/tokens/${t}`)).body.payment_method_type).toBe('DIRECT_DEBIT');
    expectKlarnaError(await c.control('POST', '/callbacks/nope/redeliver'), 404, 'NOT_FOUND');
  });

  it('the request log records route, idempotency_key, response and fault', async () => {
    await c.control('POST', '/faults', { path: '/payments/v1/sessions', status: 503, count: 1 });
    await c.klarna('POST', '/payments/v1/sessions', sessionBody(), { 'Klarna-Idempotency-Key': 'k-1' });
    const [entry] = (await c.control('GET', '/requests')).body;
    expect(entry).toMatchObject({
      route: '/payments/v1/sessions',
      idempotency_key: 'k-1',
      status: 503,
      fault: 'status',
      response: { error_code: 'SERVICE_UNAVAILABLE', correlation_id: entry.correlation_id },
    });
  });
});

describe('clock and reset', () => {
  it('reset also clears tokens, orders, faults, webhooks, v2 payment requests and delivery scenarios', async () => {
    const t = (await c.control('POST', '/tokens', {})).body.token_id;
    await c.control('POST', '/faults', { path: '/nothing', status: 500 });
    await c.control('POST', '/webhooks', { url: 'http://127.0.0.1:9/hooks' });
    await c.control('POST', '/callbacks/scenario', { hold: true });
    const pr = await c.klarna('POST', '/v2/payment/requests', { currency: 'USD', amount: 1 });
    await c.control('POST', '/reset');
    expectKlarnaError(await c.klarna('GET', `/customer-token/v1/tokens/${t}`), 404, 'NOT_FOUND');
    expect((await c.control('GET', '/faults')).body).toEqual([]);
    expect((await c.control('GET', '/webhooks')).body).toEqual([]);
    expect((await c.control('GET', '/callbacks/scenario')).body).toEqual([]);
    expect((await c.control('GET', '/orders')).body).toEqual([]);
    expect((await c.klarna('GET', `/v2/payment/requests/${pr.body.payment_request_id}`)).status).toBe(404);
  });

  it('GET /_sim/clock → {now}; advance moves it; negative or missing seconds → 400', async () => {
    const before = await c.control('GET', '/clock');
    expect(before.body).toEqual({ now: expect.any(String), offset_seconds: 0 });
    const moved = await c.control('POST', '/clock/advance', { seconds: 3600 });
    expect(moved.status).toBe(200);
    expect(Date.parse(moved.body.now) - Date.parse(before.body.now)).toBeGreaterThanOrEqual(3600_000);
    expect((await c.control('GET', '/clock')).body.offset_seconds).toBe(3600);
    expectKlarnaError(await c.control('POST', '/clock/advance', { seconds: -1 }), 400, 'BAD_VALUE');
    expectKlarnaError(await c.control('POST', '/clock/advance', {}), 400, 'BAD_VALUE');
  });

  it('POST /_sim/reset clears sessions, requests, callbacks and the clock offset', async () => {
    const id = await newSession();
    await c.control('POST', '/clock/advance', { seconds: 60 });
    const r = await c.control('POST', '/reset');
    expect(r.status).toBe(200);
    expectKlarnaError(await c.klarna('GET', `/payments/v1/sessions/${id}`), 404, 'NOT_FOUND');
    expect((await c.control('GET', '/clock')).body.offset_seconds).toBe(0);
    const log = (await c.control('GET', '/requests')).body;
    expect(log).toHaveLength(1); // only the GET just made
  });
});

describe('module interface', () => {
  it('controls:false hides /_sim entirely (Klarna-shaped 404)', async () => {
    const plain = await startSim({ controls: false });
    try {
      const r = await call(plain.url, 'POST', '/_sim/reset', undefined, {}, basicAuth);
      expectKlarnaError(r, 404, 'NOT_FOUND');
      expect((await call(plain.url, 'POST', '/payments/v1/sessions', sessionBody())).status).toBe(200);
    } finally {
      await plain.close();
    }
  });

  it('buildKlarnaSimulator returns a Fastify app that is not listening (inject works); instances share no state', async () => {
    const app = await buildKlarnaSimulator({ ...credentials });
    try {
      expect(app.server.listening).toBe(false);
      const r = await app.inject({ method: 'POST', url: '/payments/v1/sessions', headers: { authorization: basicAuth }, payload: sessionBody() });
      expect(r.statusCode).toBe(200);
      expect(r.headers['klarna-correlation-id']).toEqual(expect.any(String));
      const other = await c.klarna('GET', `/payments/v1/sessions/${r.json().session_id}`);
      expect(other.status).toBe(404);
    } finally {
      await app.close();
    }
  });

  it('startKlarnaSimulator url is http://127.0.0.1:PORT and close() stops it', async () => {
    const s = await startSim();
    expect(s.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    await s.close();
    await expect(fetch(`${s.url}/_sim/clock`)).rejects.toThrow();
  });
});
