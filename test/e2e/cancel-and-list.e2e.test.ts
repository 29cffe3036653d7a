import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, http, startAppStack, tokenizationBody, type AppStack } from '../harness/app-stack.js';

// Cancelling a tokenization in each state, and listing flows, on the real stack.

let stack: AppStack;
beforeAll(async () => {
  stack = await startAppStack();
}, 60_000);
afterAll(async () => {
  await stack?.stop();
});

// A worker is running and the simulator answers at once: the start answers within its deadline
// with a new flow (201) that has its Klarna session, never the 202 of a flow still starting.
const start = async (ref: string) => {
  const r = await http('POST', `${stack.apiUrl}/v1/tokenizations`, tokenizationBody(ref));
  expect(r.status, JSON.stringify(r.body)).toBe(201);
  expect(r.body).toMatchObject({ flow_id: `tokenize-${ref}`, state: 'AWAITING_AUTHORIZATION', merchant_reference: ref });
  return r.body.flow_id as string;
};
const cancel = (flowId: string, reason = 'shopper_declined') =>
  http('POST', `${stack.apiUrl}/v1/tokenizations/${flowId}/cancel`, { reason });
const read = async (flowId: string) => (await http('GET', `${stack.apiUrl}/v1/tokenizations/${flowId}`)).body;
const untilState = (flowId: string, state: string) =>
  eventually(async () => ((await read(flowId))?.state === state ? read(flowId) : undefined), `${flowId} in ${state}`);
const fault = async (rule: object) => expect((await http('POST', `${stack.simulatorUrl}/_sim/faults`, rule)).status).toBe(200);

describe('cancel', () => {
  it('ends a waiting flow CANCELLED with the reason; it then takes no authorization and no second cancel', async () => {
    const flowId = await start(`cancel-wait-${randomUUID()}`);
    const cancelled = await cancel(flowId, 'shopper_declined');
    expect(cancelled.status).toBe(200);
    expect(cancelled.body).toMatchObject({ flow_id: flowId, state: 'CANCELLED', cancellation: { reason: 'shopper_declined' } });
    const stored = await stack.mongo.db.collection('flows').findOne({ _id: flowId as never });
    expect(stored).toMatchObject({ state: 'CANCELLED' });

    const late = await http('POST', `${stack.apiUrl}/v1/tokenizations/${flowId}/authorization`, { authorization_token: 'late' });
    expect(late.status).toBe(409);
    const again = await cancel(flowId, 'merchant_cancelled');
    expect(again.status).toBe(409);
    expect(again.body).toMatchObject({ error: 'not_cancellable' });
    expect((await read(flowId)).cancellation.reason).toBe('shopper_declined');
  });

  it('cancels a flow while its Klarna session is being created', async () => {
    await fault({ path: '/payments/v1/sessions', method: 'POST', latencyMs: 2_500, count: 1 });
    const ref = `cancel-creating-${randomUUID()}`;
    const started = http('POST', `${stack.apiUrl}/v1/tokenizations`, tokenizationBody(ref));
    const flowId = `tokenize-${ref}`;
    await eventually(async () => ((await stack.temporal.workflow.getHandle(flowId).describe().catch(() => undefined)) ? true : undefined), 'the flow to start');
    const cancelled = await cancel(flowId, 'merchant_cancelled');
    expect(cancelled.status).toBe(200);
    expect(cancelled.body).toMatchObject({ flow_id: flowId, state: 'CANCELLED', cancellation: { reason: 'merchant_cancelled' } });
    // The start still answers with the flow and the session Klarna made while it was cancelled.
    const startAnswer = await started;
    expect(startAnswer.status).toBe(201);
    expect(startAnswer.body).toMatchObject({ flow_id: flowId, session_id: cancelled.body.session_id });
    // Klarna made exactly that one session for it, and the stored copy says CANCELLED.
    const sessions = ((await http('GET', `${stack.simulatorUrl}/_sim/requests?method=POST&path_prefix=/payments/v1/sessions`)).body as { status: number; body: { merchant_reference1?: string } }[])
      .filter((r) => r.body.merchant_reference1 === ref);
    expect(sessions.map((r) => r.status)).toEqual([200]);
    expect(await stack.mongo.db.collection('flows').findOne({ _id: flowId as never })).toMatchObject({ state: 'CANCELLED' });
  });

  it('refuses to cancel once Klarna is creating the token, and the flow completes', async () => {
    const flowId = await start(`cancel-token-${randomUUID()}`);
    const { session_id } = await read(flowId);
    await fault({ path: '/payments/v1/authorizations/*/customer-token', latencyMs: 3_000, count: 1 });
    const approved = await http('POST', `${stack.simulatorUrl}/_sim/sessions/${session_id}/authorize`, { outcome: 'approve' });
    expect(approved.status).toBe(200);
    await untilState(flowId, 'CREATING_TOKEN');
    const refused = await cancel(flowId, 'shopper_cancelled');
    expect(refused.status).toBe(409);
    expect(refused.body).toMatchObject({ error: 'not_cancellable' });
    const done = await untilState(flowId, 'COMPLETED');
    expect(done.cancellation).toBeUndefined();
  });

  it('answers 404 for an unknown flow and 400 for an unknown reason', async () => {
    expect((await cancel(`tokenize-nobody-${randomUUID()}`)).status).toBe(404);
    const flowId = await start(`cancel-bad-${randomUUID()}`);
    const bad = await cancel(flowId, 'bored');
    expect(bad.status).toBe(400);
    expect(bad.body.issues[0].field).toBe('body.reason');
    expect((await read(flowId)).state).toBe('AWAITING_AUTHORIZATION');
  });
});

describe('GET /v1/flows', () => {
  it('lists newest first, filters by merchant reference, type, state and time, and pages with a cursor', async () => {
    const run = randomUUID().slice(0, 8);
    const before = new Date().toISOString();
    const ids: string[] = [];
    for (const n of [1, 2, 3]) ids.push(await start(`list-${run}-${n}`));
    expect((await cancel(ids[1]!, 'shopper_cancelled')).status).toBe(200);

    const list = async (query: string) => {
      const r = await http('GET', `${stack.apiUrl}/v1/flows?${query}`);
      expect(r.status).toBe(200);
      return r.body as { flows: { flow_id: string; state: string }[]; next_cursor?: string };
    };
    // The list reads this app's own database: only this file's flows, and after `before` only
    // this test's (the file's tests run one after the other). So every answer is known exactly.
    const idsOf = (flows: { flow_id: string }[]) => flows.map((f) => f.flow_id);

    const all = await list(`since=${encodeURIComponent(before)}&limit=100`);
    expect(idsOf(all.flows)).toEqual([...ids].reverse());
    expect(all.next_cursor).toBeUndefined();
    expect(all.flows.map((f) => f.state)).toEqual(['AWAITING_AUTHORIZATION', 'CANCELLED', 'AWAITING_AUTHORIZATION']);

    const page1 = await list(`since=${encodeURIComponent(before)}&limit=2`);
    expect(idsOf(page1.flows)).toEqual([ids[2], ids[1]]);
    const page2 = await list(`since=${encodeURIComponent(before)}&limit=2&cursor=${encodeURIComponent(page1.next_cursor!)}`);
    expect(idsOf(page2.flows)).toEqual([ids[0]]);
    expect(page2.next_cursor).toBeUndefined();

    expect(idsOf((await list(`merchant_reference=list-${run}-2`)).flows)).toEqual([ids[1]]);
    expect(idsOf((await list(`state=CANCELLED&since=${encodeURIComponent(before)}`)).flows)).toEqual([ids[1]]);
    expect(idsOf((await list(`state=AWAITING_AUTHORIZATION&type=tokenize&since=${encodeURIComponent(before)}`)).flows)).toEqual([ids[2], ids[0]]);
    expect((await list(`since=${encodeURIComponent(new Date(Date.now() + 60_000).toISOString())}`)).flows).toEqual([]);
  });

  it('refuses a cursor it did not give out and an unknown state', async () => {
    expect((await http('GET', `${stack.apiUrl}/v1/flows?cursor=not-a-cursor`)).status).toBe(400);
    expect((await http('GET', `${stack.apiUrl}/v1/flows?state=HAPPY`)).status).toBe(400);
    expect((await http('GET', `${stack.apiUrl}/v1/flows?limit=1000`)).status).toBe(400);
  });
});
