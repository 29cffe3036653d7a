import { Client, Connection } from '@temporalio/client';
import { loadConfigOrExit } from '../config/env.js';
import { customerTokensRepository } from '../persistence/customer-tokens-repository.js';
import { flowsRepository } from '../persistence/flows-repository.js';
import { merchantEventsRepository } from '../persistence/merchant-events-repository.js';
import { klarnaEventsRepository } from '../persistence/klarna-events-repository.js';
import { connectMongo } from '../persistence/mongo.js';
import { createTokenVault } from '../persistence/token-vault.js';
import { v2Repository } from '../persistence/v2-repository.js';
import { temporalConnectionOptions } from '../temporal/connection-options.js';
import { createEncryptionCodec, encryptingDataConverter } from '../temporal/payload-codec.js';
import { startTracing, tracingClientInterceptors } from '../temporal/tracing.js';
import { apiLoggerOptions, buildApi } from './build-api.js';

const config = loadConfigOrExit(['app', 'temporal', 'mongo', 'callbacks', 'vault', 'payloadCodec', 'api', 'logging', 'flows', 'demo', 'telemetry', 'klarnaWebhooks']);
// Traces (temporal/tracing.ts): only with an OTLP endpoint; then every call into Temporal is a span
// whose context the workflow continues.
const tracing = startTracing({ serviceName: config.telemetry.serviceName ?? 'klarna-token-sagas-api', endpoint: config.telemetry.otlpEndpoint });

const mongo = await connectMongo(config.mongo);
const connection = await Connection.connect(await temporalConnectionOptions(config.temporal));
const payloadCodec = createEncryptionCodec(config.payloadCodec.keys);
const app = await buildApi({
  temporal: new Client({
    connection,
    namespace: config.temporal.namespace,
    dataConverter: encryptingDataConverter(payloadCodec),
    interceptors: tracingClientInterceptors(tracing),
  }),
  payloadCodec,
  codecCorsOrigins: config.api.codecCorsOrigins,
  taskQueue: config.temporal.taskQueue,
  flows: flowsRepository(mongo.db),
  events: klarnaEventsRepository(mongo.db),
  customerTokens: customerTokensRepository(mongo.db),
  merchantEvents: merchantEventsRepository(mongo.db),
  pingDatabase: () => mongo.db.command({ ping: 1 }),
  vault: createTokenVault(config.vault.encryptionKey, config.vault),
  callbackSecret: config.callbacks.secret,
  previousCallbackSecret: config.callbacks.previousSecret,
  authToken: config.api.authTokens,
  docsAuth: config.api.docsAuth,
  healthAuth: config.api.healthAuth,
  rateLimits: config.api.rateLimits,
  trustProxy: config.api.trustProxy,
  publicBaseUrl: config.callbacks.publicBaseUrl,
  defaultAbandonmentMs: config.flows.abandonmentTimeoutMs,
  v2: { repository: v2Repository(mongo.db), signingKeys: config.klarnaWebhooks.signingKeys, fallbackReadAfterMs: config.klarnaWebhooks.fallbackReadAfterMs },
  logger: apiLoggerOptions(config.logging.level),
  processMetrics: true,
  // Production mode already refuses KLARNA_SIMULATOR_URL; checked here too so no path serves the demo there.
  demo: config.demo.simulatorUrl && !config.app.production ? { simulatorUrl: config.demo.simulatorUrl } : undefined,
});

const shutdown = async (signal: string) => {
  app.log.info({ signal }, 'api stopping');
  await app.close();
  await connection.close();
  await mongo.close();
  await tracing?.shutdown();
  process.exit(0);
};
process.once('SIGINT', () => void shutdown('SIGINT'));
process.once('SIGTERM', () => void shutdown('SIGTERM'));

await app.listen({ host: config.api.host, port: config.api.port });
