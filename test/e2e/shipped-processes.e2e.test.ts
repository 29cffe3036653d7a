import { randomBytes, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startKlarnaSimulator, type KlarnaSimulator } from '../../klarna-simulator/server.js';
import type { CustomerTokenDocument } from '../../persistence/customer-tokens-repository.js';
import { collections, connectMongo, type Mongo } from '../../persistence/mongo.js';
import { createTokenVault } from '../../persistence/token-vault.js';
import { getFreePort, waitForPort } from '../../stack/ports.js';
import { ephemeralPayloadKeys, formatPayloadKeys } from '../../temporal/payload-codec.js';
import { eventually, http, simulatorCredentials, tokenizationBody } from '../harness/app-stack.js';
import { appProcessEnv } from '../../stack/app-process-env.js';
import { startLoggedProcess, stopLoggedProcess, type LoggedProcess } from '../harness/logged-process.js';

// The processes a user runs (`npm run worker`, `npm run api`), configured only by environment
// variables, on the suite's Temporal dev server and FerretDB: a tokenization over HTTP, then
// their logs: structured JSON lines that carry flow ids and never a token or a secret.


const suffix = randomUUID().slice(0, 8);
const encryptionKey = randomBytes(32);
const callbackSecret = `cb-${randomBytes(16).toString('hex')}`;
const payloadKeys = formatPayloadKeys(ephemeralPayloadKeys());
let simulator: KlarnaSimulator;
let mongo: Mongo;
let worker: LoggedProcess | undefined;
let api: LoggedProcess | undefined;
let apiUrl: string;

beforeAll(async () => {
  simulator = await startKlarnaSimulator({ ...simulatorCredentials, port: 0, logger: false });
  const database = `test_processes_${suffix}`;
  mongo = await connectMongo({ uri: inject('mongoUri'), database });
  const apiPort = await getFreePort();
  apiUrl = `http://127.0.0.1:${apiPort}`;
  const env: NodeJS.ProcessEnv = {
    ...appProcessEnv({
      temporalAddress: inject('temporalAddress'),
      taskQueue: `test-processes-${suffix}`,
      mongoUri: inject('mongoUri'),
      database,
      simulatorUrl: simulator.url,
      apiPort,
      callbackSecret,
      tokenKey: encryptionKey,
      payloadKeys,
    }),
    LOG_LEVEL: 'info',
  };
  worker = startLoggedProcess('worker/main.ts', env, 'tsx-cli');
  api = startLoggedProcess('api/main.ts', env, 'tsx-cli');
  await waitForPort('127.0.0.1', apiPort, 60_000);
  // The worker bundles the workflows before it polls; a start before then would wait for it.
  await eventually(async () => (worker!.lines.some((l) => l.includes('"state":"RUNNING"')) ? true : undefined), 'the worker to poll', 90_000);
}, 150_000);

afterAll(async () => {
  await Promise.all([stopLoggedProcess(api), stopLoggedProcess(worker)]);
  await simulator?.close();
  await mongo?.db.dropDatabase().catch(() => undefined);
  await mongo?.close();
});

describe('the shipped worker and API processes', () => {
  it('tokenize over HTTP; logs are JSON lines with flow ids and carry no token or secret', async () => {
    const reference = `proc-${suffix}`;
    const started = await http('POST', `${apiUrl}/v1/tokenizations`, tokenizationBody(reference), { 'idempotency-key': reference });
    expect(started.status).toBe(201);
    const flowId: string = started.body.flow_id;
    const authorized = await http('POST', `${simulator.url}/_sim/sessions/${started.body.session_id}/authorize`, { outcome: 'approve' });
    expect(authorized.status).toBe(200);
    const authorizationToken: string = authorized.body.authorization_token;

    const done = await eventually(async () => {
      const r = await http('GET', `${apiUrl}/v1/tokenizations/${flowId}`);
      return r.body?.state === 'COMPLETED' ? r.body : undefined;
    }, 'the flow to complete');
    const tokenDoc = await mongo.db.collection<CustomerTokenDocument>(collections.customerTokens).findOne({ _id: done.customer_token.token_ref });
    expect(tokenDoc).not.toBeNull();
    const customerToken = createTokenVault(encryptionKey).open(tokenDoc!.token);

    // Stop both so every line is flushed, and check they stop cleanly.
    const [apiExit, workerExit] = await Promise.all([stopLoggedProcess(api), stopLoggedProcess(worker)]);
    expect(apiExit).toBe(0);
    expect(workerExit).toBe(0);

    for (const [name, proc] of [['api', api!], ['worker', worker!]] as const) {
      const records = proc.lines.filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
      expect(records.length, `${name} logged JSON`).toBeGreaterThan(3);
      const text = proc.lines.join('\n');
      for (const [what, secret] of [
        ['customer token', customerToken],
        ['authorization token', authorizationToken],
        ['callback secret', callbackSecret],
        ['Klarna password', simulatorCredentials.password],
        ['encryption key', encryptionKey.toString('base64')],
        ['payload encryption key', payloadKeys.split(':')[1]!],
      ] as const) {
        expect(text.includes(secret), `${name} log must not contain the ${what}`).toBe(false);
      }
      expect(text, `${name} log names the flow`).toContain(flowId);
    }
    // The worker's Klarna calls are logged with Klarna's correlation id and the vault reference.
    const workerRecords = worker!.lines.filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
    // The correlation id Klarna (the simulator) gave the token creation, as it recorded the call.
    const tokenCalls = ((await http('GET', `${simulator.url}/_sim/requests?method=POST`)).body as { path: string; correlation_id: string }[]).filter(
      (r) => r.path === `/payments/v1/authorizations/${authorizationToken}/customer-token`,
    );
    expect(tokenCalls).toHaveLength(1);
    expect(workerRecords.filter((r) => r.msg === 'klarna call succeeded' && r.operation === 'create_customer_token')).toEqual([
      expect.objectContaining({ status: 200, correlationId: tokenCalls[0]!.correlation_id }),
    ]);
    expect(workerRecords.find((r) => r.msg === 'customer token vaulted')).toMatchObject({ flowId, tokenRef: done.customer_token.token_ref });
  });
});
