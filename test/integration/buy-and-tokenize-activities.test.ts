import { randomBytes, randomUUID } from 'node:crypto';
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createActivities } from '../../activities/index.js';
import type { AuthorizationOrder } from '../../contracts/buy-and-tokenize.js';
import { createKlarnaClient } from '../../klarna/client.js';
import { startKlarnaSimulator } from '../../klarna-simulator/server.js';
import { customerTokensRepository } from '../../persistence/customer-tokens-repository.js';
import { flowsRepository } from '../../persistence/flows-repository.js';
import { klarnaEventsRepository } from '../../persistence/klarna-events-repository.js';
import { collections, connectMongo, isDuplicateKeyError, type Mongo } from '../../persistence/mongo.js';
import { merchantEventsRepository } from '../../persistence/merchant-events-repository.js';
import { ordersRepository } from '../../persistence/orders-repository.js';
import { createTokenVault } from '../../persistence/token-vault.js';
import { http, simulatorCredentials } from '../harness/app-stack.js';

// The buy-and-tokenize activities against the real Klarna simulator over HTTP and real FerretDB:
// one order per idempotency key, the order stored once under Klarna's order id, a token of a failed
// purchase cancelled at Klarna and in the vault.

let simulator: Awaited<ReturnType<typeof startKlarnaSimulator>>;
let mongo: Mongo;
const vault = createTokenVault(randomBytes(32));
const basic = `Basic ${Buffer.from(`${simulatorCredentials.username}:${simulatorCredentials.password}`).toString('base64')}`;

beforeAll(async () => {
  simulator = await startKlarnaSimulator({ ...simulatorCredentials, port: 0, logger: false });
  mongo = await connectMongo({ uri: inject('mongoUri'), database: `bat_activities_${randomUUID().slice(0, 8)}` });
}, 60_000);
afterAll(async () => {
  await simulator?.close();
  await mongo?.db.dropDatabase();
  await mongo?.close();
});

const acts = () =>
  createActivities({
    klarna: createKlarnaClient({ baseUrl: simulator.url, ...simulatorCredentials, timeoutMs: 2_000 }),
    vault,
    customerTokens: customerTokensRepository(mongo.db),
    flows: flowsRepository(mongo.db),
    events: klarnaEventsRepository(mongo.db),
    orders: ordersRepository(mongo.db),
    merchantEvents: merchantEventsRepository(mongo.db),
    merchantWebhooks: { urls: [], secrets: [] },
    callbacks: { publicBaseUrl: 'http://127.0.0.1:9', secret: 'callback-secret-for-tests' },
  });

const run = <A extends unknown[], R>(fn: (...args: A) => Promise<R>, ...args: A): Promise<R> =>
  new MockActivityEnvironment(undefined, { logger: new DefaultLogger('ERROR') }).run(fn, ...args) as Promise<R>;

const session = {
  purchase_country: 'SE',
  purchase_currency: 'SEK',
  locale: 'sv-SE',
  order_amount: 19900,
  order_lines: [{ name: 'Coffee', quantity: 1, unit_price: 19900, total_amount: 19900 }],
};

async function authorizedSession(flowId: string) {
  const { session_id } = await run(acts().createPaymentSession, { flow_id: flowId, intent: 'buy_and_tokenize' as const, session, idempotency_key: randomUUID() });
  const r = await http('POST', `${simulator.url}/_sim/sessions/${session_id}/authorize`, { outcome: 'approve', callback: 'skip' });
  expect(r.status).toBe(200);
  return { sessionId: session_id, authorizationToken: r.body.authorization_token as string };
}

describe('buy-and-tokenize activities', () => {
  it('places one order per idempotency key: a retry gets the same order back', async () => {
    const flowId = `buy-and-tokenize-${randomUUID()}`;
    const { sessionId, authorizationToken } = await authorizedSession(flowId);
    const input = { flow_id: flowId, authorization_token: authorizationToken, idempotency_key: randomUUID(), order: { ...session, auto_capture: true } };
    const first = await run(acts().placeAuthorizationOrder, input);
    const retry = await run(acts().placeAuthorizationOrder, input);
    expect(retry).toEqual({ ...first, klarna_correlation_id: expect.any(String) });
    expect(first).toMatchObject({ order_id: expect.any(String), fraud_status: 'ACCEPTED', authorized_payment_method: { type: expect.any(String) } });
    const orders = ((await http('GET', `${simulator.url}/_sim/orders`)).body as { order_id: string; session_id: string }[]).filter((o) => o.session_id === sessionId);
    expect(orders.map((o) => o.order_id)).toEqual([first.order_id]);
  });

  it('reads the string form of authorized_payment_method (seed 001’s sample) as {type}', async () => {
    const flowId = `buy-and-tokenize-${randomUUID()}`;
    const { session_id } = await run(acts().createPaymentSession, { flow_id: flowId, intent: 'buy_and_tokenize' as const, session, idempotency_key: randomUUID() });
    const r = await http('POST', `${simulator.url}/_sim/sessions/${session_id}/authorize`, { outcome: 'approve', callback: 'skip', authorized_payment_method_format: 'string' });
    const order = await run(acts().placeAuthorizationOrder, { flow_id: flowId, authorization_token: r.body.authorization_token, idempotency_key: randomUUID(), order: session });
    expect(order.authorized_payment_method).toEqual({ type: expect.any(String) });
  });

  it('stores the order once under its order id; a second order id for the same flow is refused', async () => {
    const flowId = `buy-and-tokenize-${randomUUID()}`;
    const order: AuthorizationOrder = { order_id: `order-${randomUUID()}`, fraud_status: 'ACCEPTED' };
    const input = { flow_id: flowId, merchant_reference: 'ref-1', session_id: 'sess-1', token_ref: 'ctok_x', order_amount: 19900, purchase_currency: 'SEK', order };
    await run(acts().recordAuthorizationOrder, input);
    await run(acts().recordAuthorizationOrder, input);
    const docs = await mongo.db.collection(collections.orders).find({ flow_id: flowId }).toArray();
    expect(docs).toEqual([expect.objectContaining({ _id: order.order_id, flow_id: flowId, token_ref: 'ctok_x', fraud_status: 'ACCEPTED' })]);
    const other = await run(acts().recordAuthorizationOrder, { ...input, order: { ...order, order_id: `order-${randomUUID()}` } }).catch((err: unknown) => err);
    expect(isDuplicateKeyError(other)).toBe(true);
    expect(await mongo.db.collection(collections.orders).countDocuments({ flow_id: flowId })).toBe(1);
  });

  it('cancels the token of a failed purchase at Klarna and marks the vault copy; a retry is harmless', async () => {
    const flowId = `buy-and-tokenize-${randomUUID()}`;
    const { sessionId, authorizationToken } = await authorizedSession(flowId);
    const created = await run(acts().createCustomerToken, {
      flow_id: flowId,
      authorization_token: authorizationToken,
      idempotency_key: randomUUID(),
      purchase_country: 'SE',
      purchase_currency: 'SEK',
      locale: 'sv-SE',
      description: 'Coffee subscription',
    });
    await run(acts().vaultCustomerToken, { flow_id: flowId, merchant_reference: 'ref-1', session_id: sessionId, purchase_country: 'SE', purchase_currency: 'SEK', created });
    const input = { flow_id: flowId, token_ref: created.token_ref, idempotency_key: randomUUID() };
    await run(acts().cancelTokenOfFailedPurchase, input);
    await run(acts().cancelTokenOfFailedPurchase, input);
    const stored = await customerTokensRepository(mongo.db).findByRef(created.token_ref);
    expect(stored).toMatchObject({ status: 'CANCELLED', status_reason: 'purchase_failed' });
    const atKlarna = await http('GET', `${simulator.url}/customer-token/v1/tokens/${vault.open(stored!.token)}`, undefined, { authorization: basic });
    expect(atKlarna.body.status).toBe('CANCELLED');
  });
});
