import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CustomerTokenDocument } from '../../persistence/customer-tokens-repository.js';
import type { KlarnaEventDocument } from '../../persistence/klarna-events-repository.js';
import { callbackSecretFor } from '../../klarna/callback-auth.js';
import { collections } from '../../persistence/mongo.js';
import { flowGateway } from '../../api/flow-gateway.js';
import { flowsRepository } from '../../persistence/flows-repository.js';
import { eventually, http, startAppStack, tokenizationBody, type AppStack } from '../harness/app-stack.js';

// The whole product over HTTP only: API → Temporal dev server → worker → Klarna simulator →
// Klarna's authorization callback → API → workflow → FerretDB.

let stack: AppStack;
beforeAll(async () => {
  stack = await startAppStack();
}, 120_000);
afterAll(async () => {
  await stack?.stop();
});

describe('tokenize, end to end', () => {
  it('creates, authorizes (callback and checkout), vaults the token and is searchable', async () => {
    const merchantReference = `e2e-${randomUUID()}`;
    const key = `key-${randomUUID()}`;
    const body = tokenizationBody(merchantReference);

    const started = await http('POST', `${stack.apiUrl}/v1/tokenizations`, body, { 'idempotency-key': key });
    expect(started.status).toBe(201);
    expect(started.body).toMatchObject({ flow_id: `tokenize-${key}`, state: 'AWAITING_AUTHORIZATION', merchant_reference: merchantReference });
    const flowId: string = started.body.flow_id;
    const sessionId: string = started.body.session_id;
    // The session and client token are the ones Klarna made for this tokenization.
    const atKlarnaSession = await http('GET', `${stack.simulatorUrl}/payments/v1/sessions/${sessionId}`, undefined, { authorization: stack.klarnaAuth });
    expect(atKlarnaSession.status).toBe(200);
    expect(atKlarnaSession.body).toMatchObject({ intent: 'tokenize', merchant_reference1: merchantReference, client_token: started.body.client_token });

    // A repeated start is the same flow; the same key with another body is refused.
    const again = await http('POST', `${stack.apiUrl}/v1/tokenizations`, body, { 'idempotency-key': key });
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ flow_id: flowId, session_id: sessionId });
    const conflict = await http('POST', `${stack.apiUrl}/v1/tokenizations`, { ...body, description: 'Other' }, { 'idempotency-key': key });
    expect(conflict.status).toBe(409);
    expect(conflict.body.error).toBe('idempotency_conflict');

    // The shopper authorizes at "Klarna"; Klarna calls our authorization callback.
    const authorized = await http('POST', `${stack.simulatorUrl}/_sim/sessions/${sessionId}/authorize`, { outcome: 'approve' });
    expect(authorized.status).toBe(200);
    const authorizationToken: string = authorized.body.authorization_token;

    const done = await eventually(async () => {
      const r = await http('GET', `${stack.apiUrl}/v1/tokenizations/${flowId}`);
      return r.body?.state === 'COMPLETED' ? r.body : undefined;
    }, 'the flow to complete');
    expect(done.failure).toBeUndefined();
    // Only Klarna's callback had reported the authorization when the flow used it.
    expect(done.authorization.source).toBe('klarna_callback');
    expect(done.ignored_authorizations).toBe(0);

    // The checkout reports the same authorization from the widget afterwards: the flow has ended.
    const submitted = await http('POST', `${stack.apiUrl}/v1/tokenizations/${flowId}/authorization`, {
      authorization_token: authorizationToken,
      session_id: sessionId,
    });
    expect(submitted.status).toBe(409);
    expect(submitted.body).toMatchObject({ error: 'flow_closed' });

    // The stored token document: sealed, decrypts to a token Klarna knows as ACTIVE.
    const tokenDoc = await stack.mongo.db.collection<CustomerTokenDocument>(collections.customerTokens).findOne({ flow_id: flowId });
    expect(tokenDoc).toMatchObject({
      _id: done.customer_token.token_ref,
      merchant_reference: merchantReference,
      session_id: sessionId,
      status: 'ACTIVE',
      purchase_country: 'SE',
      purchase_currency: 'SEK',
    });
    const customerToken = stack.vault.open(tokenDoc!.token);
    expect(JSON.stringify(tokenDoc)).not.toContain(customerToken);
    expect(stack.vault.reference(customerToken)).toBe(tokenDoc!._id);
    // The vaulted token is the one Klarna made from this very authorization, and the summary
    // shows its last four characters.
    const klarnaSide = await http('GET', `${stack.simulatorUrl}/_sim/sessions/${sessionId}`);
    expect(klarnaSide.body.authorizations).toEqual([
      expect.objectContaining({ authorization_token: authorizationToken, customer_token_id: customerToken }),
    ]);
    expect(done.customer_token.masked).toBe(`…${customerToken.slice(-4)}`);
    expect(tokenDoc!.token_last4).toBe(customerToken.slice(-4));
    const atKlarna = await http('GET', `${stack.simulatorUrl}/customer-token/v1/tokens/${customerToken}`, undefined, {
      authorization: stack.klarnaAuth,
    });
    expect(atKlarna.status).toBe(200);
    expect(atKlarna.body.status).toBe('ACTIVE');

    // What Klarna saw: one session with intent tokenize and our callback URL, one token creation.
    const recorded = await http('GET', `${stack.simulatorUrl}/_sim/requests`);
    const calls = (recorded.body as { method: string; path: string; status: number; body?: any }[]).filter(
      (r) => r.path.startsWith('/payments') || r.path.startsWith('/customer-token'),
    );
    const sessionCalls = calls.filter((c) => c.method === 'POST' && c.path === '/payments/v1/sessions');
    expect(sessionCalls).toHaveLength(1);
    expect(sessionCalls[0]!.body).toMatchObject({ intent: 'tokenize', merchant_reference1: merchantReference, order_amount: 19900 });
    expect(sessionCalls[0]!.body.merchant_urls.authorization).toContain(`${stack.apiUrl}/klarna/callbacks/authorization/${flowId}?secret=`);
    const tokenCalls = calls.filter((c) => c.method === 'POST' && c.path.endsWith('/customer-token'));
    expect(tokenCalls.map((c) => c.path)).toEqual([`/payments/v1/authorizations/${authorizationToken}/customer-token`]);
    expect(tokenCalls[0]).toMatchObject({ status: 200, body: { intended_use: 'SUBSCRIPTION', purchase_country: 'SE', description: 'Coffee subscription' } });

    // Klarna's callback reached us and was stored before it was acknowledged.
    const deliveries = await eventually(async () => {
      const r = await http('GET', `${stack.simulatorUrl}/_sim/callbacks`);
      const mine = (r.body as { url: string; attempts: { status?: number }[] }[]).filter((d) => d.url.includes(flowId));
      return mine.length && mine[0]!.attempts.some((a) => a.status === 200) ? mine : undefined;
    }, 'the callback delivery');
    expect(deliveries).toHaveLength(1);
    const events = await stack.mongo.db.collection<KlarnaEventDocument>(collections.klarnaEvents).find({ flow_id: flowId }).toArray();
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ source: 'authorization_callback', session_id: sessionId, delivery: 'delivered' });
    expect(JSON.stringify(events[0])).not.toContain(authorizationToken);

    // The durable copy of the flow in MongoDB.
    const flowDoc = await stack.mongo.db.collection(collections.flows).findOne({ _id: flowId as never });
    expect(flowDoc).toMatchObject({ state: 'COMPLETED', merchant_reference: merchantReference, flow_type: 'tokenize' });

    // Operators find the run in the Temporal UI by merchant reference, flow type and state.
    const found = await eventually(async () => {
      const runs = [];
      for await (const run of stack.temporal.workflow.list({
        query: `MerchantReference = '${merchantReference}' AND FlowType = 'tokenize' AND FlowState = 'COMPLETED'`,
      })) {
        runs.push(run);
      }
      return runs.length ? runs : undefined;
    }, 'the run in visibility');
    expect(found.map((r) => r.workflowId)).toEqual([flowId]);
  });

  it('ends ABANDONED when the shopper never authorizes, and then refuses a late authorization', async () => {
    const merchantReference = `e2e-abandon-${randomUUID()}`;
    const started = await http('POST', `${stack.apiUrl}/v1/tokenizations`, tokenizationBody(merchantReference, { abandonment_timeout: '2s' }));
    expect(started.status).toBe(201);
    expect(started.body.flow_id).toBe(`tokenize-${merchantReference}`);
    const flowId: string = started.body.flow_id;

    const abandoned = await eventually(async () => {
      const r = await http('GET', `${stack.apiUrl}/v1/tokenizations/${flowId}`);
      return r.body?.state === 'ABANDONED' ? r.body : undefined;
    }, 'the flow to be abandoned');
    expect(abandoned.customer_token).toBeUndefined();

    const late = await http('POST', `${stack.apiUrl}/v1/tokenizations/${flowId}/authorization`, { authorization_token: 'late-token' });
    expect(late.status).toBe(409);
    expect(late.body).toMatchObject({ error: 'flow_closed' });

    // A late Klarna callback is still acknowledged and kept, marked as reaching no flow.
    const callback = await http(
      'POST',
      `${stack.apiUrl}/klarna/callbacks/authorization/${flowId}?secret=${callbackSecretFor(stack.callbackSecret, flowId)}`,
      { authorization_token: 'late-token', session_id: started.body.session_id },
    );
    expect(callback.status).toBe(200);
    expect(callback.body).toMatchObject({ duplicate: false, delivery: 'no_flow' });
    const stored = await stack.mongo.db.collection<KlarnaEventDocument>(collections.klarnaEvents).findOne({ _id: callback.body.event_id });
    expect(stored).toMatchObject({ flow_id: flowId, delivery: 'no_flow' });
  });

  it("refuses a callback without the flow's own secret: the configured secret or another flow's does not open it", async () => {
    const started = await http('POST', `${stack.apiUrl}/v1/tokenizations`, tokenizationBody(`e2e-secret-${randomUUID()}`));
    expect(started.status).toBe(201);
    const flowId: string = started.body.flow_id;
    const body = { authorization_token: 'forged-token', session_id: started.body.session_id };
    const url = (secret: string) => `${stack.apiUrl}/klarna/callbacks/authorization/${flowId}?secret=${encodeURIComponent(secret)}`;
    for (const secret of [stack.callbackSecret, callbackSecretFor(stack.callbackSecret, 'tokenize-another-flow'), '']) {
      const refused = await http('POST', url(secret), body);
      expect(refused.status).toBe(401);
    }
    const events = await stack.mongo.db.collection<KlarnaEventDocument>(collections.klarnaEvents).find({ flow_id: flowId }).toArray();
    expect(events).toEqual([]);
    const current = await http('GET', `${stack.apiUrl}/v1/tokenizations/${flowId}`);
    expect(current.body).toMatchObject({ state: 'AWAITING_AUTHORIZATION', ignored_authorizations: 0 });
  });

  it('GET ?wait= answers as soon as the flow changes, and after the wait when it does not', async () => {
    const started = await http('POST', `${stack.apiUrl}/v1/tokenizations`, tokenizationBody(`e2e-wait-${randomUUID()}`));
    const flowId: string = started.body.flow_id;
    const t0 = Date.now();
    const unchanged = await http('GET', `${stack.apiUrl}/v1/tokenizations/${flowId}?wait=1s`);
    expect(unchanged.body.state).toBe('AWAITING_AUTHORIZATION');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(900);

    const waiting = http('GET', `${stack.apiUrl}/v1/tokenizations/${flowId}?wait=25s`);
    await new Promise((r) => setTimeout(r, 300));
    const t1 = Date.now();
    expect((await http('POST', `${stack.simulatorUrl}/_sim/sessions/${started.body.session_id}/authorize`, { outcome: 'approve' })).status).toBe(200);
    const changed = await waiting;
    expect(changed.body.state).toBe('COMPLETED');
    expect(Date.now() - t1).toBeLessThan(20_000);
    expect((await http('GET', `${stack.apiUrl}/v1/tokenizations/${flowId}?wait=31s`)).status).toBe(400);
  });

  it("the long poll's close watch, on the real Temporal server: true once the flow closed, false for a running flow aborted or an unknown one", async () => {
    const gateway = flowGateway({ client: stack.temporal, flows: flowsRepository(stack.mongo.db) });
    const started = await http('POST', `${stack.apiUrl}/v1/tokenizations`, tokenizationBody(`e2e-close-${randomUUID()}`));
    const flowId: string = started.body.flow_id;

    const stop = new AbortController();
    const watching = gateway.whenClosed(flowId, stop.signal);
    await new Promise((r) => setTimeout(r, 500));
    stop.abort();
    expect(await watching).toBe(false); // still waiting for the shopper

    const closing = gateway.whenClosed(flowId, new AbortController().signal);
    expect((await http('POST', `${stack.simulatorUrl}/_sim/sessions/${started.body.session_id}/authorize`, { outcome: 'approve' })).status).toBe(200);
    expect(await closing).toBe(true);
    expect((await http('GET', `${stack.apiUrl}/v1/tokenizations/${flowId}`)).body.state).toBe('COMPLETED');
    expect(await gateway.whenClosed(flowId, new AbortController().signal)).toBe(true); // closed before the watch
    expect(await gateway.whenClosed(`tokenize-unknown-${randomUUID()}`, new AbortController().signal)).toBe(false);
  });
});
