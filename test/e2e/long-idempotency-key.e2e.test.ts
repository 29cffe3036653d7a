import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { maxFlowIdLength, maxIdempotencyKeyLength } from '../../contracts/tokenize.js';
import { callbackSecretFor } from '../../klarna/callback-auth.js';
import { eventually, http, startAppStack, tokenizationBody, type AppStack } from '../harness/app-stack.js';

// A tokenization whose idempotency key is as long as the API accepts (128 characters, so a
// 137-character flow id) works on every route, over HTTP on the real stack: start, read, the
// checkout's authorization and Klarna's authorization callback (whose URL percent-encodes the ':'
// in the key). Fastify's default maxParamLength (100) used to answer 414 to all but the start.

let stack: AppStack;
beforeAll(async () => {
  stack = await startAppStack();
}, 120_000);
afterAll(async () => {
  await stack?.stop();
});

interface Delivery {
  id: string;
  kind: string;
  url: string;
  state: string;
  attempts: { status?: number; error?: string }[];
}

describe('the longest accepted idempotency key', () => {
  it('starts, reads, takes the authorization and Klarna’s callback', async () => {
    const key = `long:${randomUUID()}.`.padEnd(maxIdempotencyKeyLength, 'k');
    expect(key).toHaveLength(128);
    const flowId = `tokenize-${key}`;
    expect(flowId).toHaveLength(maxFlowIdLength);

    // Klarna's authorization callback is held back, so the checkout's authorization is the one the
    // flow takes (202) and the callback arrives after, as a late duplicate.
    const hold = await http('POST', `${stack.simulatorUrl}/_sim/callbacks/scenario`, { kind: 'authorization', hold: true, count: 1 });
    expect(hold.status).toBe(200);

    const started = await http('POST', `${stack.apiUrl}/v1/tokenizations`, tokenizationBody(`long-${randomUUID()}`), { 'idempotency-key': key });
    expect(started.status, JSON.stringify(started.body)).toBe(201);
    expect(started.body).toMatchObject({ flow_id: flowId, state: 'AWAITING_AUTHORIZATION' });
    const sessionId: string = started.body.session_id;

    for (const id of [flowId, encodeURIComponent(flowId)]) {
      const read = await http('GET', `${stack.apiUrl}/v1/tokenizations/${id}`);
      expect(read.status, id).toBe(200);
      expect(read.body.flow_id).toBe(flowId);
    }

    const authorized = await http('POST', `${stack.simulatorUrl}/_sim/sessions/${sessionId}/authorize`, { outcome: 'approve' });
    expect(authorized.status).toBe(200);
    const authorizationToken: string = authorized.body.authorization_token;

    const submitted = await http('POST', `${stack.apiUrl}/v1/tokenizations/${encodeURIComponent(flowId)}/authorization`, {
      authorization_token: authorizationToken,
      session_id: sessionId,
    });
    expect(submitted.status, JSON.stringify(submitted.body)).toBe(202);
    expect(submitted.body).toMatchObject({ flow_id: flowId, received: true });
    const eventId: string = submitted.body.event_id;

    const done = await eventually(async () => {
      const r = await http('GET', `${stack.apiUrl}/v1/tokenizations/${flowId}`);
      return r.body?.state === 'COMPLETED' ? r.body : undefined;
    }, 'the flow to complete');
    expect(done.authorization.source).toBe('checkout');

    // Klarna's callback, to the URL the flow gave Klarna (flow id percent-encoded): routed and
    // acknowledged (the flow has ended, so it is kept as reaching no flow), not 414.
    const held = ((await http('GET', `${stack.simulatorUrl}/_sim/callbacks`)).body as Delivery[]).filter(
      (d) => d.kind === 'authorization' && d.state === 'held',
    );
    expect(held).toHaveLength(1);
    expect(held[0]!.url).toContain(`/klarna/callbacks/authorization/${encodeURIComponent(flowId)}`);
    const released = await http('POST', `${stack.simulatorUrl}/_sim/callbacks/release`, { ids: [held[0]!.id] });
    expect(released.status).toBe(200);
    const delivery = await eventually(async () => {
      const all = (await http('GET', `${stack.simulatorUrl}/_sim/callbacks`)).body as Delivery[];
      const mine = all.find((d) => d.id === held[0]!.id);
      return mine && mine.attempts.length ? mine : undefined;
    }, 'the callback delivery');
    expect(delivery.attempts.map((a) => a.status)).toEqual([200]);
    expect(delivery.state).toBe('delivered');

    // And the callback path straight, as a relay would post it: reachable, answered by the route.
    const direct = await http('POST', `${stack.apiUrl}/klarna/callbacks/authorization/${flowId}?secret=${callbackSecretFor(stack.callbackSecret, flowId)}`, {
      authorization_token: authorizationToken,
      session_id: sessionId,
    });
    expect(direct.status, JSON.stringify(direct.body)).toBe(200);
    // The same authorization as the checkout's: the same inbox event, already delivered to the flow.
    expect(direct.body).toEqual({ event_id: eventId, duplicate: true, delivery: 'delivered' });
  });
});
