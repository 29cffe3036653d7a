import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CustomerTokenDocument } from '../../persistence/customer-tokens-repository.js';
import { collections } from '../../persistence/mongo.js';
import type { OrderDocument } from '../../persistence/orders-repository.js';
import { eventually, http, tokenizationBody } from '../harness/app-stack.js';
import { startSpawnedApp, type SpawnedApp } from '../harness/spawned-app.js';

// A buy-and-tokenize flow whose worker is SIGKILLed twice, each time while Klarna holds the answer
// to a call it has already carried out: first the customer token, then the order. The worker and
// the API are the shipped processes (`node --import tsx worker/main.ts`, configured by environment
// variables; test/harness/spawned-app.ts) on the suite's Temporal and FerretDB. After each kill a
// new worker takes over; Temporal retries the lost activity once its attempt times out (30 s), with
// the same idempotency key, and Klarna answers from that key: exactly one token and one order, at
// Klarna and with us.

const suffix = randomUUID().slice(0, 8);
let app: SpawnedApp;

beforeAll(async () => {
  app = await startSpawnedApp({ name: 'test-worker-killed' });
}, 240_000);

afterAll(async () => {
  await app?.stop();
});

interface SimAuthorization {
  authorization_token: string;
  order_id?: string;
  customer_token_id?: string;
}

describe('buy and tokenize with the worker killed mid-call', () => {
  it('token and order each survive a SIGKILL after Klarna carried them out: exactly one of each', async () => {
    // Klarna carries out each call, then holds the answer for 20 s: the worker dies meanwhile.
    for (const route of ['/payments/v1/authorizations/:authorizationToken/customer-token', '/payments/v1/authorizations/:authorizationToken/order']) {
      const fault = await http('POST', `${app.simulatorUrl}/_sim/faults`, { route, phase: 'after', latencyMs: 20_000, count: 1 });
      expect(fault.status).toBe(200);
    }
    const reference = `killed-${suffix}`;
    const started = await http('POST', `${app.apiUrl}/v1/buy-and-tokenize`, tokenizationBody(reference), { 'idempotency-key': reference });
    expect(started.status, JSON.stringify(started.body)).toBe(201);
    const { flow_id: flowId, session_id: sessionId } = started.body as { flow_id: string; session_id: string };
    const authorized = await http('POST', `${app.simulatorUrl}/_sim/sessions/${sessionId}/authorize`, { outcome: 'approve' });
    expect(authorized.status).toBe(200);

    const authorization = async () => ((await http('GET', `${app.simulatorUrl}/_sim/sessions/${sessionId}`)).body.authorizations as SimAuthorization[])[0];
    // 1. Klarna has made the token; its answer is on hold. Kill the worker, start another.
    await eventually(async () => ((await authorization())?.customer_token_id ? true : undefined), 'the token at Klarna', 60_000);
    await app.kill(app.workers.at(-1)!);
    await app.startWorker();
    // 2. Klarna has placed the order; its answer is on hold. Kill again, start another.
    await eventually(async () => ((await authorization())?.order_id ? true : undefined), 'the order at Klarna', 120_000);
    await app.kill(app.workers.at(-1)!);
    await app.startWorker();

    const done = await eventually(
      async () => {
        const r = await http('GET', `${app.apiUrl}/v1/buy-and-tokenize/${flowId}`);
        return r.body?.state === 'COMPLETED' || r.body?.state === 'FAILED' ? r.body : undefined;
      },
      'the flow to end',
      120_000,
    );
    expect(done.state).toBe('COMPLETED');

    // Klarna: each call made twice with one key; one token, one order.
    const requests = (await http('GET', `${app.simulatorUrl}/_sim/requests?method=POST&path_prefix=/payments/v1/authorizations`)).body as {
      path: string;
      idempotency_key: string;
      status: number | null;
    }[];
    for (const suffixPath of ['/customer-token', '/order']) {
      const calls = requests.filter((r) => r.path.endsWith(suffixPath));
      expect(calls.length, suffixPath).toBe(2);
      expect(new Set(calls.map((c) => c.idempotency_key)).size, suffixPath).toBe(1);
    }
    const final = await authorization();
    const orders = ((await http('GET', `${app.simulatorUrl}/_sim/orders`)).body as { order_id: string; session_id: string }[]).filter((o) => o.session_id === sessionId);
    expect(orders.map((o) => o.order_id)).toEqual([done.order.order_id]);
    expect(final!.order_id).toBe(done.order.order_id);
    // Ours: the one token Klarna made, the one order it placed.
    const tokens = await app.mongo.db.collection<CustomerTokenDocument>(collections.customerTokens).find({ flow_id: flowId }).toArray();
    expect(tokens).toHaveLength(1);
    expect(app.vault.open(tokens[0]!.token)).toBe(final!.customer_token_id);
    const orderDocs = await app.mongo.db.collection<OrderDocument>(collections.orders).find({ flow_id: flowId }).toArray();
    expect(orderDocs.map((o) => o._id)).toEqual([done.order.order_id]);
  }, 360_000);
});
