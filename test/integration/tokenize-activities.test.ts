import { randomBytes, randomUUID } from 'node:crypto';
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createActivities } from '../../activities/index.js';
import { createKlarnaClient } from '../../klarna/client.js';
import { startKlarnaSimulator } from '../../klarna-simulator/server.js';
import { customerTokensRepository } from '../../persistence/customer-tokens-repository.js';
import { callbackSecretFor } from '../../klarna/callback-auth.js';
import { flowsRepository } from '../../persistence/flows-repository.js';
import { klarnaEventsRepository } from '../../persistence/klarna-events-repository.js';
import { merchantEventsRepository } from '../../persistence/merchant-events-repository.js';
import { ordersRepository } from '../../persistence/orders-repository.js';
import { connectMongo, type Mongo } from '../../persistence/mongo.js';
import { createTokenVault } from '../../persistence/token-vault.js';
import { http, simulatorCredentials } from '../harness/app-stack.js';

// The activities against the real Klarna simulator over HTTP and real FerretDB.

let simulator: Awaited<ReturnType<typeof startKlarnaSimulator>>;
let mongo: Mongo;
const vault = createTokenVault(randomBytes(32));
const callbacks = { publicBaseUrl: 'http://127.0.0.1:9', secret: 'callback-secret-for-tests' };
const basic = `Basic ${Buffer.from(`${simulatorCredentials.username}:${simulatorCredentials.password}`).toString('base64')}`;

beforeAll(async () => {
  simulator = await startKlarnaSimulator({ ...simulatorCredentials, port: 0, logger: false });
  mongo = await connectMongo({ uri: inject('mongoUri'), database: `activities_${randomUUID().slice(0, 8)}` });
}, 60_000);
afterAll(async () => {
  await simulator?.close();
  await mongo?.db.dropDatabase();
  await mongo?.close();
});

function activities(credentials = simulatorCredentials, baseUrl = simulator.url) {
  return createActivities({
    klarna: createKlarnaClient({ baseUrl, ...credentials, timeoutMs: 2_000 }),
    vault,
    customerTokens: customerTokensRepository(mongo.db),
    flows: flowsRepository(mongo.db),
    events: klarnaEventsRepository(mongo.db),
    orders: ordersRepository(mongo.db),
    merchantEvents: merchantEventsRepository(mongo.db),
    merchantWebhooks: { urls: [], secrets: [] },
    callbacks,
  });
}

const session = {
  purchase_country: 'SE',
  purchase_currency: 'SEK',
  locale: 'sv-SE',
  order_amount: 19900,
  order_lines: [{ name: 'Coffee', quantity: 1, unit_price: 19900, total_amount: 19900 }],
};

/** Runs an activity with an activity Context, as the worker would. */
const run = <A extends unknown[], R>(fn: (...args: A) => Promise<R>, ...args: A): Promise<R> =>
  // Errors only: the activity failures these tests provoke (logged as warnings) are asserted, not printed.
  new MockActivityEnvironment(undefined, { logger: new DefaultLogger('ERROR') }).run(fn, ...args) as Promise<R>;

async function failureOf(promise: Promise<unknown>): Promise<ApplicationFailure> {
  try {
    await promise;
  } catch (err) {
    expect(err).toBeInstanceOf(ApplicationFailure);
    return err as ApplicationFailure;
  }
  throw new Error('expected the activity to fail');
}

async function authorize(sessionId: string): Promise<string> {
  const r = await http('POST', `${simulator.url}/_sim/sessions/${sessionId}/authorize`, { outcome: 'approve' });
  expect(r.status).toBe(200);
  return r.body.authorization_token;
}

/** The customer token Klarna (the simulator) made from an authorization, from its own records. */
async function klarnaTokenFor(sessionId: string, authorizationToken: string): Promise<string | undefined> {
  const r = await http('GET', `${simulator.url}/_sim/sessions/${sessionId}`);
  expect(r.status).toBe(200);
  const authorizations = r.body.authorizations as { authorization_token: string; customer_token_id?: string }[];
  return authorizations.find((a) => a.authorization_token === authorizationToken)?.customer_token_id;
}

const tokenInput = (flowId: string, authorizationToken: string, idempotencyKey = randomUUID()) => ({
  flow_id: flowId,
  authorization_token: authorizationToken,
  idempotency_key: idempotencyKey,
  purchase_country: 'SE',
  purchase_currency: 'SEK',
  locale: 'sv-SE',
  description: 'Coffee subscription',
});

describe('tokenize activities', () => {
  it('creates a tokenize session whose authorization callback points back at this flow', async () => {
    const flowId = `tokenize-${randomUUID()}`;
    const created = await run(activities().createPaymentSession, { flow_id: flowId, intent: 'tokenize' as const, session, idempotency_key: randomUUID() });
    const atKlarna = await http('GET', `${simulator.url}/payments/v1/sessions/${created.session_id}`, undefined, { authorization: basic });
    expect(atKlarna.status).toBe(200);
    expect(atKlarna.body).toMatchObject({ intent: 'tokenize', client_token: created.client_token, order_amount: session.order_amount });
    const callbackUrl = new URL(atKlarna.body.merchant_urls.authorization);
    expect(callbackUrl.pathname).toBe(`/klarna/callbacks/authorization/${flowId}`);
    // The flow's own secret, not the configured one: a URL from one flow cannot post into another.
    expect(callbackUrl.searchParams.get('secret')).toBe(callbackSecretFor(callbacks.secret, flowId));
    expect(callbackUrl.searchParams.get('secret')).not.toBe(callbackSecretFor(callbacks.secret, `${flowId}x`));
    expect(callbackUrl.searchParams.get('secret')).not.toContain(callbacks.secret);
  });

  it('creates the customer token and stores it sealed, once; a stored retry changes nothing', async () => {
    const acts = activities();
    const flowId = `tokenize-${randomUUID()}`;
    const { session_id } = await run(acts.createPaymentSession, { flow_id: flowId, intent: 'tokenize' as const, session, idempotency_key: randomUUID() });
    const authorizationToken = await authorize(session_id);

    const created = await run(acts.createCustomerToken, tokenInput(flowId, authorizationToken));
    const vaultInput = { flow_id: flowId, merchant_reference: 'ref-1', session_id, purchase_country: 'SE', purchase_currency: 'SEK', created };
    const first = await run(acts.vaultCustomerToken, vaultInput);
    const retry = await run(acts.vaultCustomerToken, vaultInput);
    expect(retry).toEqual(first);

    const docs = await mongo.db.collection('customer_tokens').find({ flow_id: flowId }).toArray();
    expect(docs).toHaveLength(1);
    const token = vault.open(docs[0]!.token);
    // The stored token is the one Klarna made from this authorization.
    expect(await klarnaTokenFor(session_id, authorizationToken)).toBe(token);
    expect(docs[0]).toMatchObject({ _id: first.token_ref, session_id, merchant_reference: 'ref-1', token_last4: token.slice(-4), status: 'ACTIVE' });
    expect(first.token_ref).toBe(vault.reference(token));
    expect(first.masked).toBe(`…${token.slice(-4)}`);
    // What goes into workflow history is sealed, never the token itself.
    expect(JSON.stringify(created)).not.toContain(token);
    const requests = (await http('GET', `${simulator.url}/_sim/requests`)).body as { method: string; path: string }[];
    expect(requests.filter((r) => r.path === `/payments/v1/authorizations/${authorizationToken}/customer-token`)).toHaveLength(1);
  });

  it('gets the same token back when Klarna processed the call but the reply was lost (same idempotency key)', async () => {
    const acts = activities();
    const flowId = `tokenize-${randomUUID()}`;
    const { session_id } = await run(acts.createPaymentSession, { flow_id: flowId, intent: 'tokenize' as const, session, idempotency_key: randomUUID() });
    const authorizationToken = await authorize(session_id);
    const fault = await http('POST', `${simulator.url}/_sim/faults`, {
      path: `/payments/v1/authorizations/${authorizationToken}/customer-token`,
      phase: 'after',
      drop: true,
      count: 1,
    });
    expect(fault.status).toBe(200);

    const input = tokenInput(flowId, authorizationToken);
    const lost = await failureOf(run(acts.createCustomerToken, input));
    expect(lost.type).toBe('Klarna.network');
    expect(lost.nonRetryable).toBe(false);
    // Temporal's retry: the same input, so the same Klarna-Idempotency-Key.
    const retried = await run(acts.createCustomerToken, input);
    const tokens = (await http('GET', `${simulator.url}/_sim/requests`)).body as { path: string; status: number }[];
    const calls = tokens.filter((r) => r.path === `/payments/v1/authorizations/${authorizationToken}/customer-token`);
    expect(calls).toHaveLength(2);
    // Without the key the retry would be refused (the authorization was consumed by the first call).
    const withoutKey = await http('POST', `${simulator.url}/payments/v1/authorizations/${authorizationToken}/customer-token`, {
      purchase_country: 'SE', purchase_currency: 'SEK', locale: 'sv-SE', description: 'Coffee subscription', intended_use: 'SUBSCRIPTION',
    }, { authorization: basic });
    expect(withoutKey.status).toBe(403);
    // The retry got the token Klarna made on the call whose reply was lost: Klarna made one.
    const made = await klarnaTokenFor(session_id, authorizationToken);
    expect(vault.open(retried.sealed_token)).toBe(made);
    expect(retried.token_ref).toBe(vault.reference(made!));
    const again = await run(acts.createCustomerToken, input);
    expect(vault.open(again.sealed_token)).toBe(made);
  });

  it('fails for good, typed, when the authorization is older than 60 minutes', async () => {
    const acts = activities();
    const flowId = `tokenize-${randomUUID()}`;
    const { session_id } = await run(acts.createPaymentSession, { flow_id: flowId, intent: 'tokenize' as const, session, idempotency_key: randomUUID() });
    const authorizationToken = await authorize(session_id);
    await http('POST', `${simulator.url}/_sim/clock/advance`, { seconds: 61 * 60 });
    const failure = await failureOf(run(acts.createCustomerToken, tokenInput(flowId, authorizationToken)));
    expect(failure.type).toBe('Klarna.authorization_not_found');
    expect(failure.nonRetryable).toBe(true);
    // Klarna's correlation id of that very call, as the simulator recorded it.
    const calls = ((await http('GET', `${simulator.url}/_sim/requests?method=POST`)).body as { path: string; correlation_id: string }[]).filter(
      (r) => r.path === `/payments/v1/authorizations/${authorizationToken}/customer-token`,
    );
    expect(calls).toHaveLength(1);
    expect(failure.details?.[0]).toMatchObject({ http_status: 404, error_code: 'NOT_FOUND', correlation_id: calls[0]!.correlation_id });
    expect(await customerTokensRepository(mongo.db).findByFlowId(flowId)).toBeNull();
  });

  it('maps intent buy to a final invalid_operation', async () => {
    const acts = activities();
    const flowId = `tokenize-${randomUUID()}`;
    const { session_id } = await run(acts.createPaymentSession, { flow_id: flowId, intent: 'buy' as const, session, idempotency_key: randomUUID() });
    const authorizationToken = await authorize(session_id);
    const failure = await failureOf(run(acts.createCustomerToken, tokenInput(flowId, authorizationToken)));
    expect(failure.type).toBe('Klarna.invalid_operation');
    expect(failure.nonRetryable).toBe(true);
  });

  it('treats wrong credentials as final and an unreachable Klarna as retryable', async () => {
    const wrong = await failureOf(
      run(activities({ username: 'nobody', password: 'wrong' }).createPaymentSession, { flow_id: 'tokenize-x', intent: 'tokenize' as const, session, idempotency_key: randomUUID() }),
    );
    expect(wrong.type).toBe('Klarna.unauthorized');
    expect(wrong.nonRetryable).toBe(true);

    const down = await failureOf(
      run(activities(simulatorCredentials, 'http://127.0.0.1:9').createPaymentSession, { flow_id: 'tokenize-x', intent: 'tokenize' as const, session, idempotency_key: randomUUID() }),
    );
    expect(down.type).toBe('Klarna.network');
    expect(down.nonRetryable).toBe(false);
  });
});
