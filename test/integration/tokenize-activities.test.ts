import { randomBytes, randomUUID } from 'node:crypto';
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createActivities } from '../../activities/index.js';
import { createKlarnaClient } from '../../klarna/client.js';
import { startKlarnaSimulator } from '../../klarna-simulator/server.js';
import { customerTokensRepository } from '../../persistence/customer-tokens-repository.js';
import { flowsRepository } from '../../persistence/flows-repository.js';
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

const tokenInput = (flowId: string, sessionId: string, authorizationToken: string) => ({
  flow_id: flowId,
  merchant_reference: 'ref-1',
  session_id: sessionId,
  authorization_token: authorizationToken,
  purchase_country: 'SE',
  purchase_currency: 'SEK',
  locale: 'sv-SE',
  description: 'Coffee subscription',
});

describe('tokenize activities', () => {
  it('creates a tokenize session whose authorization callback points back at this flow', async () => {
    const flowId = `tokenize-${randomUUID()}`;
    const created = await run(activities().createPaymentSession, { flow_id: flowId, intent: 'tokenize' as const, session });
    expect(created.client_token).toEqual(expect.any(String));
    const atKlarna = await http('GET', `${simulator.url}/payments/v1/sessions/${created.session_id}`, undefined, { authorization: basic });
    expect(atKlarna.status).toBe(200);
    expect(atKlarna.body.intent).toBe('tokenize');
    const callbackUrl = new URL(atKlarna.body.merchant_urls.authorization);
    expect(callbackUrl.pathname).toBe(`/klarna/callbacks/authorization/${flowId}`);
    expect(callbackUrl.searchParams.get('secret')).toBe(callbacks.secret);
  });

  it('creates the customer token once and stores it sealed; a retry returns the stored one', async () => {
    const acts = activities();
    const flowId = `tokenize-${randomUUID()}`;
    const { session_id } = await run(acts.createPaymentSession, { flow_id: flowId, intent: 'tokenize' as const, session });
    const authorizationToken = await authorize(session_id);

    const first = await run(acts.createAndVaultCustomerToken, tokenInput(flowId, session_id, authorizationToken));
    const retry = await run(acts.createAndVaultCustomerToken, tokenInput(flowId, session_id, authorizationToken));
    expect(retry).toEqual(first);

    const doc = await customerTokensRepository(mongo.db).findByFlowId(flowId);
    const token = vault.open(doc!.token);
    expect(first.token_ref).toBe(vault.reference(token));
    expect(first.masked).toBe(`…${token.slice(-4)}`);
    const requests = (await http('GET', `${simulator.url}/_sim/requests`)).body as { method: string; path: string }[];
    expect(requests.filter((r) => r.path === `/payments/v1/authorizations/${authorizationToken}/customer-token`)).toHaveLength(1);
  });

  it('fails for good, typed, when the authorization is older than 60 minutes', async () => {
    const acts = activities();
    const flowId = `tokenize-${randomUUID()}`;
    const { session_id } = await run(acts.createPaymentSession, { flow_id: flowId, intent: 'tokenize' as const, session });
    const authorizationToken = await authorize(session_id);
    await http('POST', `${simulator.url}/_sim/clock/advance`, { seconds: 61 * 60 });
    const failure = await failureOf(run(acts.createAndVaultCustomerToken, tokenInput(flowId, session_id, authorizationToken)));
    expect(failure.type).toBe('Klarna.authorization_not_found');
    expect(failure.nonRetryable).toBe(true);
    expect(failure.details?.[0]).toMatchObject({ http_status: 404, error_code: 'NOT_FOUND', correlation_id: expect.any(String) });
    expect(await customerTokensRepository(mongo.db).findByFlowId(flowId)).toBeNull();
  });

  it('maps intent buy to a final invalid_operation', async () => {
    const acts = activities();
    const flowId = `tokenize-${randomUUID()}`;
    const { session_id } = await run(acts.createPaymentSession, { flow_id: flowId, intent: 'buy' as const, session });
    const authorizationToken = await authorize(session_id);
    const failure = await failureOf(run(acts.createAndVaultCustomerToken, tokenInput(flowId, session_id, authorizationToken)));
    expect(failure.type).toBe('Klarna.invalid_operation');
    expect(failure.nonRetryable).toBe(true);
  });

  it('treats wrong credentials as final and an unreachable Klarna as retryable', async () => {
    const wrong = await failureOf(
      run(activities({ username: 'nobody', password: 'wrong' }).createPaymentSession, { flow_id: 'tokenize-x', intent: 'tokenize' as const, session }),
    );
    expect(wrong.type).toBe('Klarna.unauthorized');
    expect(wrong.nonRetryable).toBe(true);

    const down = await failureOf(
      run(activities(simulatorCredentials, 'http://127.0.0.1:9').createPaymentSession, { flow_id: 'tokenize-x', intent: 'tokenize' as const, session }),
    );
    expect(down.type).toBe('Klarna.network');
    expect(down.nonRetryable).toBe(false);
  });
});
