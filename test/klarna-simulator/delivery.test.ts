import { createHmac } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { deliveries, expectKlarnaError, sessionBody, until, useReceiver, useSimulator } from './helpers.js';

// Klarna's outgoing calls on the simulator clock: retry schedules per kind (authorization callback,
// HPP status_update, v2 webhooks), and the delivery scenarios (hold + release for out-of-order
// delivery, duplicates, delays). Real-time retry waits are made huge here, so every retry below
// happens only because the test advanced the simulator clock.

const c = useSimulator({ callbackRetryBaseMs: 10_000_000 });
let failing = false;
const merchant = useReceiver(() => (failing ? 500 : 200));
beforeEach(() => {
  failing = false;
});
afterEach(async () => {
  await c.control('DELETE', '/callbacks/scenario');
});

const advance = (seconds: number) => c.control('POST', '/clock/advance', { seconds });
const firstAttemptDone = (kind: string) => until(async () => ((await deliveries(c, kind))[0]?.attempts.length ? (await deliveries(c, kind))[0] : undefined), `${kind} attempt`);

async function authorizeWithCallback() {
  const s = await c.klarna('POST', '/payments/v1/sessions', sessionBody({ merchant_urls: { authorization: `${merchant.url}/cb?secret=x` } }));
  return c.control('POST', `/sessions/${s.body.session_id}/authorize`, {});
}

async function paymentRequest(body: Record<string, unknown> = { currency: 'USD', amount: 1000 }) {
  const r = await c.klarna('POST', '/v2/payment/requests', body);
  expect(r.status).toBe(201);
  return r.body.payment_request_id as string;
}

describe('retry schedules on the simulator clock', () => {
  it('authorization callback: retried 1 s then 2 s after a failure (next_attempt_at), then failed after 3 attempts', async () => {
    failing = true;
    await authorizeWithCallback();
    const first = await firstAttemptDone('authorization');
    expect(first).toMatchObject({ state: 'pending', attempts: [{ status: 500 }] });
    expect(Date.parse(first.next_attempt_at) - Date.parse(first.attempts[0].at)).toBe(1_000);

    await advance(0.9);
    expect((await deliveries(c, 'authorization'))[0].attempts).toHaveLength(1);
    await advance(0.1); // the control answers once the due retry has been attempted
    const second = (await deliveries(c, 'authorization'))[0];
    expect(second.attempts).toHaveLength(2);
    expect(Date.parse(second.next_attempt_at) - Date.parse(second.attempts[1].at)).toBe(2_000);

    await advance(2);
    const last = (await deliveries(c, 'authorization'))[0];
    expect(last).toMatchObject({ state: 'failed', attempts: [{ status: 500 }, { status: 500 }, { status: 500 }] });
    expect(last.next_attempt_at).toBeUndefined();
    expect(merchant.received).toHaveLength(3);
    expect(merchant.received.every((r) => r.url === '/cb?secret=x')).toBe(true);
  });

  it('a retry that succeeds ends the delivery (delivered)', async () => {
    failing = true;
    await authorizeWithCallback();
    await firstAttemptDone('authorization');
    failing = false;
    await advance(1);
    expect((await deliveries(c, 'authorization'))[0]).toMatchObject({ state: 'delivered', attempts: [{ status: 500 }, { status: 200 }] });
  });

  it('HPP status_update: up to 3 retries (1 s, 2 s, 4 s), then failed', async () => {
    const s = await c.klarna('POST', '/payments/v1/sessions', sessionBody());
    const hpp = await c.klarna('POST', '/hpp/v1/sessions', {
      payment_session_url: `https://api.klarna.com/payments/v1/sessions/${s.body.session_id}`,
      merchant_urls: { status_update: `${merchant.url}/status?hpp={{session_id}}` },
    });
    failing = true;
    await c.control('POST', `/hpp/${hpp.body.session_id}/open`);
    const first = await firstAttemptDone('hpp_status_update');
    expect(first.url).toBe(`${merchant.url}/status?hpp=${hpp.body.session_id}`);
    const gaps: number[] = [];
    for (const wait of [1, 2, 4]) {
      const before = (await deliveries(c, 'hpp_status_update'))[0];
      gaps.push(Date.parse(before.next_attempt_at) - Date.parse(before.attempts.at(-1).at));
      await advance(wait);
    }
    expect(gaps).toEqual([1_000, 2_000, 4_000]);
    expect((await deliveries(c, 'hpp_status_update'))[0]).toMatchObject({ state: 'failed', attempts: [{}, {}, {}, {}] });
    expect(merchant.received.map((r) => r.body.session.status)).toEqual(['IN_PROGRESS', 'IN_PROGRESS', 'IN_PROGRESS', 'IN_PROGRESS']);
  });

  it('v2 webhook: retried at +10 s, +2 min, +15 min, 3 h, 6 h, 12 h with the same signed bytes, then failed', async () => {
    const hook = await c.control('POST', '/webhooks', { url: `${merchant.url}/hooks`, event_types: ['payment.request.state-change.submitted'] });
    failing = true;
    await paymentRequest();
    await firstAttemptDone('webhook');
    const gaps: number[] = [];
    for (const wait of [10, 120, 900, 3 * 3600, 6 * 3600, 12 * 3600]) {
      const before = (await deliveries(c, 'webhook'))[0];
      gaps.push(Date.parse(before.next_attempt_at) - Date.parse(before.attempts.at(-1).at));
      await advance(wait - 1);
      expect((await deliveries(c, 'webhook'))[0].attempts).toHaveLength(before.attempts.length);
      await advance(1);
    }
    expect(gaps).toEqual([10_000, 120_000, 900_000, 3 * 3600_000, 6 * 3600_000, 12 * 3600_000]);
    expect((await deliveries(c, 'webhook'))[0]).toMatchObject({ state: 'failed' });
    expect(merchant.received).toHaveLength(7);
    expect(new Set(merchant.received.map((r) => r.raw)).size).toBe(1);
    for (const r of merchant.received) expect(r.headers['klarna-signature']).toBe(createHmac('sha256', hook.body.signing_key).update(r.raw).digest('hex'));
  });

  it('reset forgets scheduled retries', async () => {
    failing = true;
    await authorizeWithCallback();
    await firstAttemptDone('authorization');
    await c.control('POST', '/reset');
    await advance(10);
    expect(merchant.received).toHaveLength(1);
    expect(await deliveries(c)).toEqual([]);
  });
});

describe('POST /_sim/callbacks/scenario', () => {
  it('hold + release reverse: webhooks arrive out of order (completed before in-progress before submitted)', async () => {
    await c.control('POST', '/webhooks', { url: `${merchant.url}/hooks` });
    const rule = await c.control('POST', '/callbacks/scenario', { kind: 'webhook', hold: true });
    expect(rule.status).toBe(200);
    expect(rule.body).toMatchObject({ id: expect.any(String), kinds: ['webhook'], hold: true, duplicates: 0, delay_ms: 0, remaining: null });
    const id = await paymentRequest();
    await c.control('POST', `/v2/payment-requests/${encodeURIComponent(id)}/complete`, { outcome: 'approve' });
    const held = await deliveries(c, 'webhook');
    expect(held.map((d) => [d.state, d.attempts.length])).toEqual([
      ['held', 0],
      ['held', 0],
      ['held', 0],
    ]);
    expect(merchant.received).toHaveLength(0);

    const released = await c.control('POST', '/callbacks/release', { order: 'reverse' });
    expect(released.status).toBe(200);
    expect(released.body.released.map((d: { state: string }) => d.state)).toEqual(['delivered', 'delivered', 'delivered']);
    expect(merchant.received.map((r) => r.body.metadata.event_type)).toEqual([
      'payment.request.state-change.completed',
      'payment.request.state-change.in-progress',
      'payment.request.state-change.submitted',
    ]);
  });

  it('release by ids sends exactly those, in that order; the rest stay held', async () => {
    await c.control('POST', '/webhooks', { url: `${merchant.url}/hooks` });
    await c.control('POST', '/callbacks/scenario', { hold: true });
    const id = await paymentRequest();
    await c.control('POST', `/v2/payment-requests/${encodeURIComponent(id)}/open`);
    const [submitted, inProgress] = await deliveries(c, 'webhook');
    await c.control('POST', '/callbacks/release', { ids: [inProgress.id] });
    expect(merchant.received.map((r) => r.body.payload.state)).toEqual(['IN_PROGRESS']);
    expect((await deliveries(c, 'webhook')).find((d) => d.id === submitted.id).state).toBe('held');
    await c.control('POST', '/callbacks/release', {});
    expect(merchant.received.map((r) => r.body.payload.state)).toEqual(['IN_PROGRESS', 'SUBMITTED']);
  });

  it('duplicates: each call is sent again with the same body and event_id (duplicate_of links them)', async () => {
    await c.control('POST', '/webhooks', { url: `${merchant.url}/hooks`, event_types: ['payment.request.state-change.submitted'] });
    await c.control('POST', '/callbacks/scenario', { kind: 'webhook', duplicates: 2, count: 1 });
    await paymentRequest();
    await until(async () => (merchant.received.length === 3 ? true : undefined), 'three copies');
    expect(new Set(merchant.received.map((r) => r.raw)).size).toBe(1);
    const [original, ...copies] = await deliveries(c, 'webhook');
    expect(copies.map((d) => d.duplicate_of)).toEqual([original.id, original.id]);
    // count 1: the next call is normal again.
    await paymentRequest();
    await until(async () => (merchant.received.length === 4 ? true : undefined), 'one more');
    expect(await deliveries(c, 'webhook')).toHaveLength(4);
  });

  it('delay_ms holds the first attempt back for that long (real time)', async () => {
    await c.control('POST', '/callbacks/scenario', { kind: 'authorization', delay_ms: 250, count: 1 });
    const started = Date.now();
    await authorizeWithCallback();
    await until(async () => (merchant.received.length ? true : undefined), 'the late callback');
    expect(merchant.received[0]!.at - started).toBeGreaterThanOrEqual(240);
  });

  it('a scenario for one kind leaves other kinds alone; GET lists rules, DELETE removes them', async () => {
    await c.control('POST', '/callbacks/scenario', { kind: 'webhook', hold: true });
    await authorizeWithCallback();
    await until(async () => (merchant.received.length ? true : undefined), 'the authorization callback');
    const rules = await c.control('GET', '/callbacks/scenario');
    expect(rules.body).toEqual([expect.objectContaining({ kinds: ['webhook'], hold: true, matched: 0 })]);
    expect((await c.control('DELETE', '/callbacks/scenario')).status).toBe(204);
    expect((await c.control('GET', '/callbacks/scenario')).body).toEqual([]);
  });

  it('400 for a bad rule (unknown kind, negative delay)', async () => {
    expectKlarnaError(await c.control('POST', '/callbacks/scenario', { kind: 'sms' }), 400, 'BAD_VALUE');
    expectKlarnaError(await c.control('POST', '/callbacks/scenario', { delay_ms: -1 }), 400, 'BAD_VALUE');
    expectKlarnaError(await c.control('POST', '/callbacks/release', { order: 'random' }), 400, 'BAD_VALUE');
  });
});
