import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { signWebhookBody } from '../../klarna/webhook-signature.js';
import { collections } from '../../persistence/mongo.js';
import type { KlarnaEventDocument } from '../../persistence/klarna-events-repository.js';
import type { V2CustomerTokenDocument } from '../../persistence/v2-repository.js';
import { eventually, http, startAppStack, type AppStack } from '../harness/app-stack.js';

// Klarna v2 Payment Request API with tokenization (seed 003, Web SDK partner path) end to end,
// and the signed webhook endpoint: duplicates, out of order, late, never arriving, forged,
// unknown flow, rotated keys; the network session token's hand-off and the request's expiry.

const oldKey = { id: 'key-2025', key: `old-${randomUUID()}` };
const newKey = { id: 'key-2026', key: `new-${randomUUID()}` };

let stack: AppStack;
beforeAll(async () => {
  // Rotation: the API takes both keys; the simulator is registered with the first (new) one.
  stack = await startAppStack({ v2: { fallbackReadAfterMs: 1_500, signingKeys: [newKey, oldKey] } });
}, 60_000);
afterAll(async () => {
  await stack?.stop();
});
afterEach(async () => {
  await sim('DELETE', '/_sim/callbacks/scenario');
  await sim('DELETE', '/_sim/faults');
  await useSimulatorKey(newKey);
});

const sim = (method: string, path: string, body?: unknown) => http(method, `${stack.simulatorUrl}${path}`, body);
const api = (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) => http(method, `${stack.apiUrl}${path}`, body, headers);
const klarna = (method: string, path: string) => http(method, `${stack.simulatorUrl}${path}`, undefined, { authorization: stack.klarnaAuth });
const webhookUrl = () => `${stack.apiUrl}/klarna/webhooks/v2`;

/** Klarna's portal subscription, simulated: the simulator signs with this key from now on. */
async function useSimulatorKey(key: { id: string; key: string }) {
  await sim('DELETE', '/_sim/webhooks');
  await sim('POST', '/_sim/webhooks', { url: webhookUrl(), signing_key: key.key, signing_key_id: key.id });
}

const requestBody = (overrides: object = {}) => ({
  merchant_reference: 'websdk-1',
  currency: 'USD',
  request_customer_token: { use_case: 'subscription', customer_token_reference: 'shopper-7' },
  supplementary_purchase_data: { subscriptions: [{ subscription_reference: 'MONTHLY PLAN', name: '9.99 plan', free_trial: 'ACTIVE', billing_plans: [{ billing_amount: 999, currency: 'USD', from: '2026-08-01', interval: 'MONTH', interval_count: 1 }] }] },
  customer_interaction: { return_url: 'https://shop.example/klarna/return?state={klarna.payment_request.state}', app_return_url: 'shopapp://klarna' },
  ...overrides,
});
const start = (body: object, key = `pr-${randomUUID()}`) => api('POST', '/v2/payment-requests', body, { 'idempotency-key': key }).then((r) => ({ ...r, key }));
const settled = (flowId: string, states: string[] = ['COMPLETED', 'DECLINED', 'EXPIRED', 'CANCELLED', 'FAILED']) =>
  eventually(async () => {
    const answer = await api('GET', `/v2/payment-requests/${flowId}`);
    return states.includes(answer.body?.state) ? answer.body : undefined;
  }, `${flowId} to end`, 40_000);
const complete = (prId: string, outcome = 'approve') => sim('POST', `/_sim/v2/payment-requests/${encodeURIComponent(prId)}/complete`, { outcome });
const webhooksFor = async (prId: string) =>
  ((await sim('GET', '/_sim/callbacks')).body as { id: string; kind: string; state: string; body: any; attempts: { status?: number }[] }[]).filter(
    (c) => c.kind === 'webhook' && c.body?.payload?.payment_request_id === prId,
  );
const storedEvents = (prId: string) => stack.mongo.db.collection<KlarnaEventDocument>(collections.klarnaEvents).find({ payment_request_id: prId }).toArray();
const hold = () => sim('POST', '/_sim/callbacks/scenario', { kind: 'webhook', hold: true });

describe('v2 Payment Request API with tokenization', () => {
  it('token only: no amount, return URLs unmodified; the webhook completes it; token vaulted, network session token for the hand-off', async () => {
    const started = await start(requestBody());
    expect(started.status).toBe(201);
    expect(started.body).toMatchObject({
      flow_id: `v2-payreq-${started.key}`,
      flow_type: 'v2_payment_request',
      state: 'AWAITING_SHOPPER',
      next_action: 'redirect_to_payment_request',
      payment_request: { payment_request_id: expect.stringMatching(/^krn:payment:eu1:request:/), payment_request_url: expect.any(String), state: 'SUBMITTED' },
    });
    expect(started.body.amount).toBeUndefined();
    const flowId = started.body.flow_id;
    const prId = started.body.payment_request.payment_request_id;

    const created = ((await sim('GET', '/_sim/requests?method=POST&path_prefix=/v2/payment/requests')).body as { body: any; idempotency_key?: string; status: number }[]).filter(
      (r) => r.body?.payment_request_reference === flowId,
    );
    expect(created).toHaveLength(1);
    expect(created[0]!.body).toEqual({
      currency: 'USD',
      payment_request_reference: flowId,
      supplementary_purchase_data: requestBody().supplementary_purchase_data,
      request_customer_token: { scopes: ['payment:customer_not_present'], customer_token_reference: 'shopper-7' },
      customer_interaction_config: { method: 'HANDOVER', return_url: 'https://shop.example/klarna/return?state={klarna.payment_request.state}', app_return_url: 'shopapp://klarna' },
    });
    expect(created[0]!.idempotency_key).toMatch(/^[0-9a-f-]{36}$/);

    // Before completion there is nothing to hand off.
    expect((await api('GET', `/v2/payment-requests/${flowId}/hand-off`)).status).toBe(409);
    const returned = await complete(prId);
    expect(returned.body.redirect_to).toBe('https://shop.example/klarna/return?state=COMPLETED');
    const done = await settled(flowId);
    expect(done).toMatchObject({
      state: 'COMPLETED',
      next_action: 'none',
      payment_request: { state: 'COMPLETED', completed_by: 'webhook' },
      customer_token: { result: 'APPROVED', scopes: ['payment:customer_not_present'], token_ref: expect.stringMatching(/^ctok_/) },
      network_session: { expires_at: expect.any(String) },
    });
    const atKlarna = (await klarna('GET', `/v2/payment/requests/${encodeURIComponent(prId)}`)).body;
    const token = atKlarna.state_context.klarna_customer.customer_token as string;
    expect(stack.vault.reference(token)).toBe(done.customer_token.token_ref);
    const doc = await stack.mongo.db.collection<V2CustomerTokenDocument>(collections.v2CustomerTokens).findOne({ _id: done.customer_token.token_ref });
    expect(doc).toMatchObject({ scopes: ['payment:customer_not_present'], payment_request_id: prId, customer_token_reference: 'shopper-7' });
    expect(JSON.stringify(doc)).not.toContain(token);
    // The webhook's tokens are sealed in the inbox.
    const events = await storedEvents(prId);
    expect(events.map((e) => e.payload.state)).toEqual(expect.arrayContaining(['SUBMITTED', 'IN_PROGRESS', 'COMPLETED']));
    expect(JSON.stringify(events)).not.toContain(token);
    expect(JSON.stringify(events)).not.toContain(atKlarna.state_context.klarna_network_session_token);

    const handOff = await api('GET', `/v2/payment-requests/${flowId}/hand-off`);
    expect(handOff.status).toBe(200);
    expect(handOff.body).toMatchObject({ payment_request_id: prId, klarna_network_session_token: atKlarna.state_context.klarna_network_session_token });
  });

  it('token with purchase; the hand-off lets the acquiring partner finalize the purchase; then the hour runs out', async () => {
    const started = await start(requestBody({ merchant_reference: 'websdk-2', amount: 2500, request_customer_token: { use_case: 'on_demand' } }));
    expect(started.body).toMatchObject({ state: 'AWAITING_SHOPPER', amount: 2500 });
    const prId = started.body.payment_request.payment_request_id;
    await complete(prId);
    const done = await settled(started.body.flow_id);
    expect(done).toMatchObject({ state: 'COMPLETED', customer_token: { result: 'APPROVED', scopes: ['payment:customer_present'] } });
    const handOff = (await api('GET', `/v2/payment-requests/${started.body.flow_id}/hand-off`)).body;
    // The acquiring partner's authorization with that token (Klarna approves the purchase the shopper approved).
    const finalized = await fetch(`${stack.simulatorUrl}/v2/accounts/partner-1/payment/authorize`, {
      method: 'POST',
      headers: { authorization: stack.klarnaAuth, 'content-type': 'application/json', 'klarna-network-session-token': handOff.klarna_network_session_token },
      body: JSON.stringify({ currency: 'USD', request_payment_transaction: { amount: 2500 } }),
    }).then((r) => r.json() as Promise<any>);
    expect(finalized.payment_transaction_response).toMatchObject({ result: 'APPROVED' });
    // After the hour (our clock: the stored expiry), the hand-off is refused.
    await stack.mongo.db.collection(collections.v2NetworkSessions).updateOne({ _id: started.body.flow_id }, { $set: { expires_at: new Date(Date.now() - 1000) } });
    const late = await api('GET', `/v2/payment-requests/${started.body.flow_id}/hand-off`);
    expect(late.status).toBe(409);
    expect(late.body.error).toBe('network_session_token_expired');
  });

  it('the Web SDK initiate endpoint answers paymentRequestId; the flow then follows the request to its end', async () => {
    const initiated = await api('POST', '/v2/web-sdk/initiate', requestBody({ merchant_reference: 'websdk-3', amount: 1999, payment_option_id: 'pay_later' }), { 'idempotency-key': `sdk-${randomUUID()}` });
    expect(initiated.status).toBe(201);
    expect(initiated.body).toMatchObject({ paymentRequestId: expect.stringMatching(/^krn:payment:eu1:request:/), flow_id: expect.stringMatching(/^v2-payreq-sdk-/), state: 'AWAITING_SHOPPER' });
    await complete(initiated.body.paymentRequestId, 'decline');
    expect(await settled(initiated.body.flow_id)).toMatchObject({ state: 'DECLINED', failure: { kind: 'payment_request_declined' } });
  });

  it('a lost reply on creating the payment request: one payment request at Klarna', async () => {
    await sim('POST', '/_sim/faults', { route: '/v2/payment/requests', method: 'POST', phase: 'after', drop: true, count: 1 });
    const started = await start(requestBody({ merchant_reference: 'websdk-lost' }));
    const flow = started.body.payment_request ? started.body : await eventually(async () => (await api('GET', `/v2/payment-requests/${started.body.flow_id}`)).body?.payment_request ? (await api('GET', `/v2/payment-requests/${started.body.flow_id}`)).body : undefined, 'the payment request');
    const calls = ((await sim('GET', '/_sim/requests?method=POST&path_prefix=/v2/payment/requests')).body as { body: any; idempotency_key?: string; fault?: string; response?: any }[]).filter(
      (r) => r.body?.payment_request_reference === flow.flow_id,
    );
    expect(calls).toHaveLength(2);
    expect(calls[0]!.fault).toBe('drop-after');
    expect(calls[1]!.idempotency_key).toBe(calls[0]!.idempotency_key);
    expect(calls[1]!.response.payment_request_id).toBe(flow.payment_request.payment_request_id);
    // Klarna made exactly one: only that request emitted its submitted webhook.
    const submitted = ((await sim('GET', '/_sim/callbacks')).body as { kind: string; body: any }[]).filter(
      (c) => c.kind === 'webhook' && c.body?.payload?.payment_request_reference === flow.flow_id && c.body?.payload?.state === 'SUBMITTED',
    );
    expect(submitted).toHaveLength(1);
  });

  it('expiry: Klarna expires the request (its clock 3 h on), the webhook ends the flow EXPIRED', async () => {
    const started = await start(requestBody({ merchant_reference: 'websdk-expiry' }));
    await sim('POST', '/_sim/clock/advance', { seconds: 3 * 3600 + 1 });
    expect(await settled(started.body.flow_id)).toMatchObject({ state: 'EXPIRED', payment_request: { state: 'EXPIRED' }, failure: { kind: 'payment_request_expired' } });
  });
});

describe('v2 webhooks', () => {
  const signed = (envelope: object, key = newKey) => {
    const raw = JSON.stringify(envelope);
    return http('POST', webhookUrl(), raw, { 'content-type': 'application/json', 'klarna-signing-key-id': key.id, 'klarna-signature': signWebhookBody(raw, key.key) });
  };
  const envelope = (eventId: string, payload: object = { payment_request_id: `krn:payment:eu1:request:${randomUUID()}`, state: 'SUBMITTED' }) => ({
    metadata: { event_type: 'payment.request.state-change.submitted', event_id: eventId, event_version: 'v2', occurred_at: new Date().toISOString(), live: false },
    payload,
  });
  const countEvents = (eventId: string) => stack.mongo.db.collection<KlarnaEventDocument>(collections.klarnaEvents).countDocuments({ _id: `v2wh_${eventId}` });

  it('forged, unsigned or unknown-key webhooks are refused (401) and nothing is stored; a signed one is stored once, its duplicate acknowledged', async () => {
    const eventId = randomUUID();
    const raw = JSON.stringify(envelope(eventId));
    const forged = await http('POST', webhookUrl(), raw, { 'content-type': 'application/json', 'klarna-signing-key-id': newKey.id, 'klarna-signature': signWebhookBody(raw, 'not-the-key-0123456789') });
    expect(forged.status).toBe(401);
    expect(forged.body).toMatchObject({ error: 'unauthorized' });
    // Changing one byte of a correctly signed body.
    const tampered = await http('POST', webhookUrl(), raw.replace('SUBMITTED', 'COMPLETED'), { 'content-type': 'application/json', 'klarna-signing-key-id': newKey.id, 'klarna-signature': signWebhookBody(raw, newKey.key) });
    expect(tampered.status).toBe(401);
    expect((await http('POST', webhookUrl(), raw, { 'content-type': 'application/json' })).status).toBe(401);
    const unknownKey = await http('POST', webhookUrl(), raw, { 'content-type': 'application/json', 'klarna-signing-key-id': 'key-1999', 'klarna-signature': signWebhookBody(raw, newKey.key) });
    expect(unknownKey.status).toBe(401);
    expect(await countEvents(eventId)).toBe(0);

    const accepted = await signed(envelope(eventId));
    expect(accepted.status).toBe(200);
    expect(accepted.body).toMatchObject({ event_id: `v2wh_${eventId}`, duplicate: false, delivery: 'pending' });
    // The previous key still verifies during the rotation.
    const duplicate = await signed(envelope(eventId), oldKey);
    expect(duplicate.status).toBe(200);
    expect(duplicate.body.duplicate).toBe(true);
    expect(await countEvents(eventId)).toBe(1);
  });

  it('duplicates from Klarna: each event stored once, applied once', async () => {
    await sim('POST', '/_sim/callbacks/scenario', { kind: 'webhook', duplicates: 2 });
    const started = await start(requestBody({ merchant_reference: 'dupes' }));
    const prId = started.body.payment_request.payment_request_id;
    await complete(prId);
    const done = await settled(started.body.flow_id);
    expect(done).toMatchObject({ state: 'COMPLETED', payment_request: { completed_by: 'webhook' } });
    const sent = await eventually(async () => {
      const calls = await webhooksFor(prId);
      return calls.length >= 9 && calls.every((c) => c.state === 'delivered') ? calls : undefined;
    }, 'every copy delivered');
    const eventIds = new Set(sent.map((c) => c.body.metadata.event_id));
    expect(eventIds.size).toBe(3); // submitted, in-progress, completed: three copies each
    expect((await storedEvents(prId)).length).toBe(3);
    const tokens = await stack.mongo.db.collection(collections.v2CustomerTokens).countDocuments({ payment_request_id: prId });
    expect(tokens).toBe(1);
  });

  it('out of order: completed before in-progress and submitted; applied in state order, the older ones ignored', async () => {
    await hold();
    const started = await start(requestBody({ merchant_reference: 'reorder' }));
    const prId = started.body.payment_request.payment_request_id;
    await sim('POST', `/_sim/v2/payment-requests/${encodeURIComponent(prId)}/open`);
    await complete(prId);
    const held = await webhooksFor(prId);
    expect(held.map((c) => c.body.payload.state)).toEqual(['SUBMITTED', 'IN_PROGRESS', 'COMPLETED']);
    await sim('POST', '/_sim/callbacks/release', { ids: held.map((c) => c.id).reverse() });
    const done = await settled(started.body.flow_id);
    expect(done).toMatchObject({ state: 'COMPLETED', payment_request: { state: 'COMPLETED', completed_by: 'webhook' }, customer_token: { result: 'APPROVED' } });
    // Stored all the same (acknowledged), none moved the flow back.
    await eventually(async () => ((await storedEvents(prId)).length === 3 ? true : undefined), 'three stored events');
  });

  it('never arriving, then late: the fallback read completes the flow; the late webhook is acknowledged and changes nothing', async () => {
    await hold();
    const started = await start(requestBody({ merchant_reference: 'late' }));
    const prId = started.body.payment_request.payment_request_id;
    await complete(prId);
    const done = await settled(started.body.flow_id);
    expect(done).toMatchObject({ state: 'COMPLETED', payment_request: { completed_by: 'read' }, customer_token: { result: 'APPROVED' } });
    const released = await sim('POST', '/_sim/callbacks/release', { ids: (await webhooksFor(prId)).map((c) => c.id) });
    expect(released.body.released.every((r: { state: string }) => r.state === 'delivered')).toBe(true);
    const events = await eventually(async () => {
      const stored = await storedEvents(prId);
      return stored.length === 3 && stored.every((e) => e.delivery === 'no_flow') ? stored : undefined;
    }, 'the late events kept as no_flow');
    expect(events.map((e) => e.payload.state).sort()).toEqual(['COMPLETED', 'IN_PROGRESS', 'SUBMITTED']);
    expect((await api('GET', `/v2/payment-requests/${started.body.flow_id}`)).body).toEqual(done);
  });

  it('an event the API cannot route yet is kept and applied when the flow collects it', async () => {
    await hold();
    const started = await start(requestBody({ merchant_reference: 'unrouted' }));
    const prId = started.body.payment_request.payment_request_id;
    await complete(prId);
    // Klarna's completed event, without the reference that names our flow (as for a request another system made).
    const atKlarna = (await klarna('GET', `/v2/payment/requests/${encodeURIComponent(prId)}`)).body;
    const eventId = randomUUID();
    const answer = await signed({
      metadata: { event_type: 'payment.request.state-change.completed', event_id: eventId, event_version: 'v2', occurred_at: new Date().toISOString(), live: false },
      payload: { payment_request_id: prId, state: 'COMPLETED', previous_state: 'IN_PROGRESS', state_context: atKlarna.state_context },
    });
    expect(answer.body).toMatchObject({ delivery: 'pending' });
    const done = await settled(started.body.flow_id);
    expect(done).toMatchObject({ state: 'COMPLETED', payment_request: { completed_by: 'webhook' } });
    expect(await stack.mongo.db.collection<KlarnaEventDocument>(collections.klarnaEvents).findOne({ _id: `v2wh_${eventId}` })).toMatchObject({ delivery: 'delivered' });
  });

  it('a rotated key: webhooks signed with the previous key still complete flows', async () => {
    await useSimulatorKey(oldKey);
    const started = await start(requestBody({ merchant_reference: 'rotated' }));
    await complete(started.body.payment_request.payment_request_id);
    expect(await settled(started.body.flow_id)).toMatchObject({ state: 'COMPLETED', payment_request: { completed_by: 'webhook' } });
  });

  it('a signing key the product does not know: every webhook is refused (401), the flow completes through the fallback read', async () => {
    await useSimulatorKey({ id: 'key-unknown', key: `someone-else-${randomUUID()}` });
    const started = await start(requestBody({ merchant_reference: 'unknown-key' }));
    const prId = started.body.payment_request.payment_request_id;
    await complete(prId);
    const done = await settled(started.body.flow_id);
    expect(done).toMatchObject({ state: 'COMPLETED', payment_request: { completed_by: 'read' }, customer_token: { result: 'APPROVED' } });
    const calls = await webhooksFor(prId);
    expect(calls.length).toBeGreaterThanOrEqual(2);
    for (const call of calls) expect(call.attempts.map((a) => a.status)).toContain(401);
    expect(calls.every((c) => c.attempts.every((a) => a.status === 401 || a.status === undefined))).toBe(true);
    expect(await storedEvents(prId)).toHaveLength(0);
  });
});
