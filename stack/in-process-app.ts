import { randomBytes, randomUUID } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import type { PayloadCodec } from '@temporalio/common';
import { NativeConnection, type Worker, type WorkerOptions } from '@temporalio/worker';
import { buildApi } from '../api/build-api.js';
import type { RateLimits } from '../api/plugins/http-guard.js';
import type { FlowDeadlines } from '../api/flow-gateway.js';
import { createKlarnaClient } from '../klarna/client.js';
import { createKlarnaV2Client } from '../klarna/v2-client.js';
import type { WebhookSigningKey } from '../klarna/webhook-signature.js';
import { v2Repository } from '../persistence/v2-repository.js';
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
  /** How often the API sweeps its inbox for pending authorizations (default 60 s; api/build-api.ts). */
  inboxSweepIntervalMs?: number;
  /** Emit the MongoDB driver's command events on `mongo.client` (the benchmark counts them). */
  monitorMongoCommands?: boolean;
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
  /** Serve the dev-only demo checkout (/demo/checkout) on this app's simulator, as `npm run dev` does. */
  demo?: boolean;
  /**
   * Klarna v2 webhooks: the signing keys the API accepts (default: one random key, which the
   * simulator is registered with to send its webhooks to the API) and when flows read a payment
   * request themselves (default 15 s).
   */
  v2?: { signingKeys?: WebhookSigningKey[]; fallbackReadAfterMs?: number };
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
  /** The signing key the simulator's v2 webhooks use (registered with POST /_sim/webhooks; again after a /_sim/reset). */
  v2SigningKey: WebhookSigningKey;
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
  const v2SigningKeys = options.v2?.signingKeys?.length ? options.v2.signingKeys : [{ id: `key-${suffix}`, key: randomBytes(24).toString('hex') }];

  const simulator = await startKlarnaSimulator({ ...simulatorCredentials, port: 0, logger: false });
  const mongo = await connectMongo({ uri: options.mongoUri, database: options.database ?? `app_${suffix}` }, { monitorCommands: options.monitorMongoCommands });
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
    inboxSweepIntervalMs: options.inboxSweepIntervalMs,
    authToken: options.authToken,
    rateLimits: options.rateLimits,
    docsAuth: options.docsAuth,
    healthAuth: options.healthAuth,
    previousCallbackSecret: options.previousCallbackSecret,
    payloadCodec,
    codecCorsOrigins: options.codecCorsOrigins,
    ...(options.demo ? { demo: { simulatorUrl: simulator.url } } : {}),
    v2: { repository: v2Repository(mongo.db), signingKeys: v2SigningKeys, fallbackReadAfterMs: options.v2?.fallbackReadAfterMs },
  });
  const apiUrl = await api.listen({ host: '127.0.0.1', port: 0 });
  // Klarna's portal subscription, simulated: the simulator signs its v2 webhooks to the API.
  await registerSimulatorWebhook(simulator.url, `${apiUrl}/klarna/webhooks/v2`, v2SigningKeys[0]!);

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
        v2: {
          klarna: createKlarnaV2Client({ baseUrl: simulator.url, ...simulatorCredentials, partnerAccountId: 'krn:partner:global:account:test:IN_PROCESS', timeoutMs: 5_000 }),
          repository: v2Repository(mongo.db),
        },
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
    v2SigningKey: v2SigningKeys[0]!,
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

/** Registers a v2 webhook at the simulator (its stand-in for Klarna's portal subscription). */
export async function registerSimulatorWebhook(simulatorUrl: string, url: string, key: WebhookSigningKey): Promise<void> {
  const response = await fetch(`${simulatorUrl}/_sim/webhooks`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ url, signing_key: key.key, signing_key_id: key.id }),
  });
  if (!response.ok) throw new Error(`the simulator refused the webhook registration: ${response.status} ${await response.text()}`);
}
