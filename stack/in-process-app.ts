import { randomBytes, randomUUID } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import type { PayloadCodec } from '@temporalio/common';
import { NativeConnection, type Worker, type WorkerOptions } from '@temporalio/worker';
import { buildApi } from '../api/build-api.js';
import type { RateLimits } from '../api/plugins/http-guard.js';
import type { FlowDeadlines } from '../api/flow-gateway.js';
import { createKlarnaClient } from '../klarna/client.js';
import { startKlarnaSimulator } from '../klarna-simulator/server.js';
import { customerTokensRepository } from '../persistence/customer-tokens-repository.js';
import { flowsRepository } from '../persistence/flows-repository.js';
import { klarnaEventsRepository } from '../persistence/klarna-events-repository.js';
import { merchantEventsRepository } from '../persistence/merchant-events-repository.js';
import { ordersRepository } from '../persistence/orders-repository.js';
import { connectMongo, type Mongo } from '../persistence/mongo.js';
import { createTokenVault, type TokenVault } from '../persistence/token-vault.js';
import { createEncryptionCodec, encryptingDataConverter, ephemeralPayloadKeys } from '../temporal/payload-codec.js';
import { createWorker } from '../worker/create-worker.js';

export const simulatorCredentials = { username: 'test-merchant', password: 'test-secret' };

export interface InProcessAppOptions {
  temporalAddress: string;
  mongoUri: string;
  /** Default: a fresh `app_<random>` database, dropped on stop. */
  database?: string;
  /** Outbound merchant webhooks the worker sends (default: none, events only logged). */
  merchantWebhooks?: { urls: string[]; secrets: string[] };
  /** Default true; false = API only (flows stay where they are). */
  withWorker?: boolean;
  /** Deadlines of the API's calls into Temporal (defaults in api/flow-gateway.ts). */
  deadlines?: Partial<FlowDeadlines>;
  /** Bearer token(s) the API takes; none: open. */
  authToken?: string | readonly string[];
  /** Rate limits: none by default (tests and benchmarks send more than any caller should). */
  rateLimits?: RateLimits;
  /** Require the bearer token on the docs / on health (API_DOCS_AUTH, API_HEALTH_AUTH). */
  docsAuth?: boolean;
  healthAuth?: boolean;
  /** CALLBACK_SECRET_PREVIOUS: the API also accepts callbacks under this secret. */
  previousCallbackSecret?: string;
  /** Browser origins allowed to call the API's /codec endpoint. */
  codecCorsOrigins?: string[];
  workflowBundle?: WorkerOptions['workflowBundle'];
}

export interface InProcessApp {
  apiUrl: string;
  simulatorUrl: string;
  mongo: Mongo;
  vault: TokenVault;
  temporal: Client;
  /** The client's and worker's data converter encrypts every payload with this codec (a random key per app). */
  payloadCodec: PayloadCodec;
  callbackSecret: string;
  taskQueue: string;
  /** Basic auth header for the simulator's Klarna paths. */
  klarnaAuth: string;
  stop(): Promise<void>;
}

/**
 * The product as it runs, in one process but over real sockets: the Klarna simulator, the API
 * and a worker, on a given Temporal server and MongoDB. Each app gets its own task queue and
 * database, so several can share the servers (tests, benchmarks) without seeing each other.
 */
export async function startInProcessApp(options: InProcessAppOptions): Promise<InProcessApp> {
  const suffix = randomUUID().slice(0, 8);
  const taskQueue = `app-${suffix}`;
  const callbackSecret = `cb-secret-${randomBytes(12).toString('hex')}`;
  const vault = createTokenVault(randomBytes(32));
  const payloadCodec = createEncryptionCodec(ephemeralPayloadKeys());
  const dataConverter = encryptingDataConverter(payloadCodec);

  const simulator = await startKlarnaSimulator({ ...simulatorCredentials, port: 0, logger: false });
  const mongo = await connectMongo({ uri: options.mongoUri, database: options.database ?? `app_${suffix}` });
  const connection = await Connection.connect({ address: options.temporalAddress });
  const temporal = new Client({ connection, namespace: 'default', dataConverter });

  const api = await buildApi({
    temporal,
    taskQueue,
    flows: flowsRepository(mongo.db),
    events: klarnaEventsRepository(mongo.db),
    customerTokens: customerTokensRepository(mongo.db),
    merchantEvents: merchantEventsRepository(mongo.db),
    pingDatabase: () => mongo.db.command({ ping: 1 }),
    vault,
    callbackSecret,
    defaultAbandonmentMs: 30 * 60_000,
    deadlines: options.deadlines,
    authToken: options.authToken,
    rateLimits: options.rateLimits,
    docsAuth: options.docsAuth,
    healthAuth: options.healthAuth,
    previousCallbackSecret: options.previousCallbackSecret,
    payloadCodec,
    codecCorsOrigins: options.codecCorsOrigins,
  });
  const apiUrl = await api.listen({ host: '127.0.0.1', port: 0 });

  let worker: Worker | undefined;
  let workerRun: Promise<void> | undefined;
  let nativeConnection: NativeConnection | undefined;
  if (options.withWorker !== false) {
    nativeConnection = await NativeConnection.connect({ address: options.temporalAddress });
    worker = await createWorker({
      connection: nativeConnection,
      namespace: 'default',
      taskQueue,
      dataConverter,
      workflowBundle: options.workflowBundle,
      deps: {
        klarna: createKlarnaClient({ baseUrl: simulator.url, ...simulatorCredentials, timeoutMs: 5_000 }),
        vault,
        customerTokens: customerTokensRepository(mongo.db),
        flows: flowsRepository(mongo.db),
        events: klarnaEventsRepository(mongo.db),
        orders: ordersRepository(mongo.db),
        merchantEvents: merchantEventsRepository(mongo.db),
        merchantWebhooks: options.merchantWebhooks ?? { urls: [], secrets: [] },
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
    payloadCodec,
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
      if (!options.database) await mongo.db.dropDatabase().catch(() => undefined);
      await mongo.close();
    },
  };
}
