import { NativeConnection, Runtime } from '@temporalio/worker';
import pino from 'pino';
import { loadConfigOrExit } from '../config/env.js';
import { createKlarnaClient } from '../klarna/client.js';
import { createKlarnaV2Client } from '../klarna/v2-client.js';
import { v2Repository } from '../persistence/v2-repository.js';
import { customerTokensRepository } from '../persistence/customer-tokens-repository.js';
import { flowsRepository } from '../persistence/flows-repository.js';
import { klarnaEventsRepository } from '../persistence/klarna-events-repository.js';
import { merchantEventsRepository } from '../persistence/merchant-events-repository.js';
import { ordersRepository } from '../persistence/orders-repository.js';
import { connectMongo } from '../persistence/mongo.js';
import { createTokenVault } from '../persistence/token-vault.js';
import { temporalConnectionOptions } from '../temporal/connection-options.js';
import { createEncryptionCodec, encryptingDataConverter } from '../temporal/payload-codec.js';
import { startTracing } from '../temporal/tracing.js';
import { createWorker } from './create-worker.js';
import { pinoTemporalLogger } from './pino-temporal-logger.js';

const config = loadConfigOrExit(['temporal', 'mongo', 'klarna', 'callbacks', 'vault', 'payloadCodec', 'logging', 'merchantWebhooks', 'telemetry', 'worker', 'klarnaV2']);
const logger = pino({ name: 'worker', level: config.logging.level });
// Temporal's own metrics (and the flows' outcome counter, activities/flow-storage-activities.ts)
// on a Prometheus endpoint when WORKER_METRICS_ADDRESS is set: http://<address>/metrics.
const metricsAddress = config.telemetry.workerMetricsAddress;
Runtime.install({
  logger: pinoTemporalLogger(logger.child({ component: 'temporal' })),
  ...(metricsAddress ? { telemetryOptions: { metrics: { prometheus: { bindAddress: metricsAddress } } } } : {}),
});
// Traces (temporal/tracing.ts): only with an OTLP endpoint; otherwise no interceptors at all.
const tracing = startTracing({ serviceName: config.telemetry.serviceName ?? 'klarna-token-sagas-worker', endpoint: config.telemetry.otlpEndpoint });

const mongo = await connectMongo(config.mongo);
const connection = await NativeConnection.connect(await temporalConnectionOptions(config.temporal));
const worker = await createWorker({
  connection,
  namespace: config.temporal.namespace,
  taskQueue: config.temporal.taskQueue,
  dataConverter: encryptingDataConverter(createEncryptionCodec(config.payloadCodec.keys)),
  maxCachedWorkflows: config.worker.maxCachedWorkflows,
  tracing,
  deps: {
    klarna: createKlarnaClient({ ...config.klarna, logger: logger.child({ component: 'klarna' }) }),
    vault: createTokenVault(config.vault.encryptionKey, config.vault),
    customerTokens: customerTokensRepository(mongo.db),
    flows: flowsRepository(mongo.db),
    events: klarnaEventsRepository(mongo.db),
    orders: ordersRepository(mongo.db),
    merchantEvents: merchantEventsRepository(mongo.db),
    merchantWebhooks: config.merchantWebhooks,
    callbacks: config.callbacks,
    v2: {
      klarna: createKlarnaV2Client({
        ...config.klarnaV2,
        username: config.klarnaV2.username ?? config.klarna.username,
        password: config.klarnaV2.password ?? config.klarna.password,
        logger: logger.child({ component: 'klarna-v2' }),
      }),
      repository: v2Repository(mongo.db),
    },
  },
});
logger.info(
  {
    temporal: config.temporal.address,
    namespace: config.temporal.namespace,
    taskQueue: config.temporal.taskQueue,
    klarna: config.klarna.baseUrl,
    metrics: metricsAddress ? `http://${metricsAddress}/metrics` : 'off',
    // The collector's origin only: an endpoint URL may carry credentials.
    tracing: config.telemetry.otlpEndpoint ? new URL(config.telemetry.otlpEndpoint).origin : 'off',
  },
  'worker started',
);
// Worker.run() ends after SIGINT/SIGTERM once in-flight tasks are done (the SDK installs the handlers).
await worker.run();
await connection.close();
await mongo.close();
await tracing?.shutdown();
logger.info('worker stopped');
