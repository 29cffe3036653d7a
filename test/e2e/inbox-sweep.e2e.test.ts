import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authorizationEventId } from '../../api/authorization-inbox.js';
import type { KlarnaEventDocument } from '../../persistence/klarna-events-repository.js';
import { collections } from '../../persistence/mongo.js';
import { eventually, http, startAppStack, tokenizationBody, type AppStack } from '../harness/app-stack.js';

// The API's inbox sweep, on real servers: an authorization stored in the inbox by an API process
// that died before it could signal the flow (no callback reached anyone else) is found by the next
// sweep of any API instance and reaches its flow, long before the flow's own inbox read (10 min).

let stack: AppStack;
beforeAll(async () => {
  stack = await startAppStack({ inboxSweepIntervalMs: 500 });
});
afterAll(async () => {
  await stack?.stop();
});

describe('inbox sweep', () => {
  it('delivers an authorization left pending by a process that died, once: the flow completes with one token', async () => {
    const started = await http('POST', `${stack.apiUrl}/v1/tokenizations`, tokenizationBody(`e2e-sweep-${randomUUID()}`));
    expect(started.status).toBe(201);
    const flowId: string = started.body.flow_id;
    // The shopper approves; Klarna's callback never arrives (best effort).
    const authorized = await http('POST', `${stack.simulatorUrl}/_sim/sessions/${started.body.session_id}/authorize`, { outcome: 'approve', callback: 'skip' });
    const authorizationToken: string = authorized.body.authorization_token;

    // What an API that stored the checkout's authorization and died at once leaves behind.
    const events = stack.mongo.db.collection<KlarnaEventDocument>(collections.klarnaEvents);
    const eventId = authorizationEventId(flowId, authorizationToken);
    await events.insertOne({
      _id: eventId,
      source: 'checkout_authorization',
      flow_id: flowId,
      session_id: started.body.session_id,
      payload: { authorization_token: stack.vault.seal(authorizationToken) },
      received_at: new Date(Date.now() - 60_000),
      delivery: 'pending',
    });
    const before = await http('GET', `${stack.apiUrl}/v1/tokenizations/${flowId}`);
    expect(before.body.state).toBe('AWAITING_AUTHORIZATION');

    const done = await http('GET', `${stack.apiUrl}/v1/tokenizations/${flowId}?wait=20s`);
    expect(done.body).toMatchObject({ state: 'COMPLETED', authorization: { source: 'checkout' } });
    expect(await events.findOne({ _id: eventId })).toMatchObject({ delivery: 'delivered' });
    const calls = (await http('GET', `${stack.simulatorUrl}/_sim/requests`)).body as { method: string; path: string }[];
    expect(calls.filter((c) => c.method === 'POST' && c.path === `/payments/v1/authorizations/${authorizationToken}/customer-token`)).toHaveLength(1);

    // Later sweeps find nothing more to do: still one token.
    await new Promise((r) => setTimeout(r, 1_500));
    const again = (await http('GET', `${stack.simulatorUrl}/_sim/requests`)).body as { method: string; path: string }[];
    expect(again.filter((c) => c.method === 'POST' && c.path.endsWith('/customer-token'))).toHaveLength(1);
  });

  it('leaves a fresh pending authorization to the process that stored it (30 s), then takes it', async () => {
    const started = await http('POST', `${stack.apiUrl}/v1/tokenizations`, tokenizationBody(`e2e-sweep-fresh-${randomUUID()}`));
    const flowId: string = started.body.flow_id;
    const authorized = await http('POST', `${stack.simulatorUrl}/_sim/sessions/${started.body.session_id}/authorize`, { outcome: 'approve', callback: 'skip' });
    const events = stack.mongo.db.collection<KlarnaEventDocument>(collections.klarnaEvents);
    const eventId = authorizationEventId(flowId, authorized.body.authorization_token);
    await events.insertOne({
      _id: eventId,
      source: 'authorization_callback',
      flow_id: flowId,
      session_id: started.body.session_id,
      payload: { authorization_token: stack.vault.seal(authorized.body.authorization_token) },
      received_at: new Date(Date.now() - 28_000),
      delivery: 'pending',
    });
    await new Promise((r) => setTimeout(r, 1_200)); // two sweeps: too fresh for them
    expect((await events.findOne({ _id: eventId }))?.delivery).toBe('pending');
    expect((await http('GET', `${stack.apiUrl}/v1/tokenizations/${flowId}`)).body.state).toBe('AWAITING_AUTHORIZATION');
    await eventually(async () => ((await http('GET', `${stack.apiUrl}/v1/tokenizations/${flowId}`)).body.state === 'COMPLETED' ? true : undefined), 'swept once 30 s old', 15_000);
    expect(await events.findOne({ _id: eventId })).toMatchObject({ delivery: 'delivered' });
  });
});
