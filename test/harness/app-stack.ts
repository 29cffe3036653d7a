import { randomBytes, randomUUID } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, type Worker } from '@temporalio/worker';
import { inject } from 'vitest';
import { buildApi } from '../../api/build-api.js';
import { createKlarnaClient } from '../../klarna/client.js';
import { startKlarnaSimulator } from '../../klarna-simulator/server.js';
import { customerTokensRepository } from '../../persistence/customer-tokens-repository.js';
import { flowsRepository } from '../../persistence/flows-repository.js';
import { klarnaEventsRepository } from '../../persistence/klarna-events-repository.js';
import { connectMongo, type Mongo } from '../../persistence/mongo.js';
import { createTokenVault, type TokenVault } from '../../persistence/token-vault.js';
import { createWorker } from '../../worker/create-worker.js';

export const simulatorCredentials = { username: 'test-merchant', password: 'test-secret' };

export interface AppStack {
  apiUrl: string;
  simulatorUrl: string;
  mongo: Mongo;
  vault: TokenVault;
  temporal: Client;
  callbackSecret: string;
  taskQueue: string;
  /** Basic auth header for the simulator's Klarna paths. */
  klarnaAuth: string;
  stop(): Promise<void>;
}

/**
 * The product as it runs, in-process but over real sockets: the Klarna simulator, the API and a
 * worker, wired to the suite's real Temporal dev server and FerretDB. Each stack gets its own
 * task queue and database, so test files do not see each other's data.
 */
export async function startAppStack(options: { withWorker?: boolean; sessionWaitMs?: number; authToken?: string } = {}): Promise<AppStack> {
  const temporalAddress = inject('temporalAddress');
  const suffix = randomUUID().slice(0, 8);
  const taskQueue = `test-${suffix}`;
  const callbackSecret = `cb-secret-${randomBytes(12).toString('hex')}`;
  const vault = createTokenVault(randomBytes(32));

  const simulator = await startKlarnaSimulator({ ...simulatorCredentials, port: 0, logger: false });
  const mongo = await connectMongo({ uri: inject('mongoUri'), database: `test_${suffix}` });
  const connection = await Connection.connect({ address: temporalAddress });
  const temporal = new Client({ connection, namespace: 'default' });

  const api = await buildApi({
    temporal,
    taskQueue,
    flows: flowsRepository(mongo.db),
    events: klarnaEventsRepository(mongo.db),
    vault,
    callbackSecret,
    defaultAbandonmentMs: 30 * 60_000,
    sessionWaitMs: options.sessionWaitMs,
    authToken: options.authToken,
  });
  const apiUrl = await api.listen({ host: '127.0.0.1', port: 0 });

  let worker: Worker | undefined;
  let workerRun: Promise<void> | undefined;
  let nativeConnection: NativeConnection | undefined;
  if (options.withWorker !== false) {
    nativeConnection = await NativeConnection.connect({ address: temporalAddress });
    worker = await createWorker({
      connection: nativeConnection,
      namespace: 'default',
      taskQueue,
      deps: {
        klarna: createKlarnaClient({ baseUrl: simulator.url, ...simulatorCredentials, timeoutMs: 5_000 }),
        vault,
        customerTokens: customerTokensRepository(mongo.db),
        flows: flowsRepository(mongo.db),
        callbacks: { publicBaseUrl: apiUrl, secret: callbackSecret },
      },
    });
    workerRun = worker.run();
  }

  return {
    apiUrl,
    simulatorUrl: simulator.url,
    mongo,
    vault,
    temporal,
    callbackSecret,
    taskQueue,
    klarnaAuth: `Basic ${Buffer.from(`${simulatorCredentials.username}:${simulatorCredentials.password}`).toString('base64')}`,
    async stop() {
      worker?.shutdown();
      await workerRun;
      await nativeConnection?.close();
      await api.close();
      await simulator.close();
      await connection.close();
      await mongo.db.dropDatabase().catch(() => undefined);
      await mongo.close();
    },
  };
}

export async function http(method: string, url: string, body?: unknown, headers: Record<string, string> = {}) {
  const response = await fetch(url, {
    method,
    headers: { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await response.text();
  let json: any;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = text;
  }
  return { status: response.status, headers: response.headers, body: json };
}

/** Polls until `check` returns a value, for state that settles asynchronously (signals, visibility). */
export async function eventually<T>(check: () => Promise<T | undefined>, what: string, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
}

export const tokenizationBody = (merchantReference: string, overrides: object = {}) => ({
  merchant_reference: merchantReference,
  purchase_country: 'SE',
  purchase_currency: 'SEK',
  locale: 'sv-SE',
  description: 'Coffee subscription',
  order_lines: [
    {
      type: 'digital',
      name: 'Coffee subscription, monthly',
      quantity: 1,
      unit_price: 19900,
      total_amount: 19900,
      subscription: { name: 'Coffee', interval: 'MONTH', interval_count: 1 },
    },
  ],
  billing_address: { given_name: 'Alice', family_name: 'Test', email: 'customer@email.se', country: 'SE' },
  ...overrides,
});
