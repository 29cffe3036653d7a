import { NativeConnection, Runtime } from '@temporalio/worker';
import pino from 'pino';
import { loadConfigOrExit } from '../config/env.js';
import { createKlarnaClient } from '../klarna/client.js';
import { customerTokensRepository } from '../persistence/customer-tokens-repository.js';
import { flowsRepository } from '../persistence/flows-repository.js';
import { klarnaEventsRepository } from '../persistence/klarna-events-repository.js';
import { merchantEventsRepository } from '../persistence/merchant-events-repository.js';
import { ordersRepository } from '../persistence/orders-repository.js';
import { connectMongo } from '../persistence/mongo.js';
import { createTokenVault } from '../persistence/token-vault.js';
import { temporalConnectionOptions } from '../temporal/connection-options.js';
import { createEncryptionCodec, encryptingDataConverter } from '../temporal/payload-codec.js';
import { createWorker } from './create-worker.js';
import { pinoTemporalLogger } from './pino-temporal-logger.js';

const config = loadConfigOrExit(['temporal', 'mongo', 'klarna', 'callbacks', 'vault', 'payloadCodec', 'logging', 'merchantWebhooks']);
const logger = pino({ name: 'worker', level: config.logging.level });
Runtime.install({ logger: pinoTemporalLogger(logger.child({ component: 'temporal' })) });

const mongo = await connectMongo(config.mongo);
const connection = await NativeConnection.connect(await temporalConnectionOptions(config.temporal));
const worker = await createWorker({
  connection,
  namespace: config.temporal.namespace,
  taskQueue: config.temporal.taskQueue,
  dataConverter: encryptingDataConverter(createEncryptionCodec(config.payloadCodec.keys)),
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
  },
});
logger.info(
  { temporal: config.temporal.address, namespace: config.temporal.namespace, taskQueue: config.temporal.taskQueue, klarna: config.klarna.baseUrl },
  'worker started',
);
// Worker.run() ends after SIGINT/SIGTERM once in-flight tasks are done (the SDK installs the handlers).
await worker.run();
await connection.close();
await mongo.close();
logger.info('worker stopped');
