import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { Client } from '@temporalio/client';
import type { PayloadCodec } from '@temporalio/common';
import Fastify, { type FastifyServerOptions } from 'fastify';
import { jsonSchemaTransform, serializerCompiler, validatorCompiler, type ZodTypeProvider } from 'fastify-type-provider-zod';
import { maxFlowIdLength } from '../contracts/tokenize.js';
import type { FlowsRepository } from '../persistence/flows-repository.js';
import type { KlarnaEventsRepository } from '../persistence/klarna-events-repository.js';
import type { TokenVault } from '../persistence/token-vault.js';
import { bearerAuth } from './plugins/bearer-auth.js';
import { registerErrorHandling } from './plugins/error-handling.js';
import { codecRoutes } from './routes/codec.js';
import { flowListRoutes } from './routes/flows.js';
import { healthRoutes } from './routes/health.js';
import { klarnaCallbackRoutes } from './routes/klarna-callbacks.js';
import { tokenizationRoutes } from './routes/tokenizations.js';
import { tokenizeFlows } from './tokenize-flows.js';
import { authorizationInbox } from './authorization-inbox.js';
import { flowGateway, type FlowDeadlines } from './flow-gateway.js';

export interface ApiDeps {
  temporal: Client;
  taskQueue: string;
  flows: FlowsRepository;
  events: KlarnaEventsRepository;
  vault: TokenVault;
  callbackSecret: string;
  authToken?: string;
  /** The payload codec of `temporal`'s data converter, served at /codec for the Temporal UI. */
  payloadCodec: PayloadCodec;
  /** Browser origins allowed to call /codec (the Temporal UI's). */
  codecCorsOrigins?: readonly string[];
  defaultAbandonmentMs: number;
  /** Resolves when MongoDB answers; for `/ready`. */
  pingDatabase: () => Promise<unknown>;
  /** Deadlines of calls into Temporal (defaults in api/flow-gateway.ts). */
  deadlines?: Partial<FlowDeadlines>;
  logger?: FastifyServerOptions['logger'];
}

/** Logs never carry secrets: no query strings (callback secret), no Authorization header. */
export const apiLoggerOptions = (level: string) => ({
  level,
  redact: ['req.headers.authorization'],
  serializers: {
    req: (req: { method: string; url: string; id: string }) => ({ id: req.id, method: req.method, path: req.url.split('?')[0] }),
  },
});

export async function buildApi(deps: ApiDeps) {
  const app = Fastify({
    logger: deps.logger ?? false,
    bodyLimit: 1_048_576,
    // Path parameters are flow ids: every id an accepted key makes must route (Fastify's default, 100, answered 414).
    routerOptions: { maxParamLength: maxFlowIdLength },
  }).withTypeProvider<ZodTypeProvider>();
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  registerErrorHandling(app);

  await app.register(swagger, {
    openapi: {
      info: { title: 'Klarna token sagas API', version: '0.1.0', description: 'Klarna tokenized payments as durable Temporal sagas.' },
    },
    transform: jsonSchemaTransform,
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());

  await app.register(healthRoutes, { temporal: deps.temporal, pingDatabase: deps.pingDatabase });

  const gateway = flowGateway({ client: deps.temporal, flows: deps.flows, deadlines: deps.deadlines });
  const flows = tokenizeFlows({ gateway, taskQueue: deps.taskQueue, defaultAbandonmentMs: deps.defaultAbandonmentMs });
  const inbox = authorizationInbox({ gateway, events: deps.events, vault: deps.vault });
  await app.register(tokenizationRoutes, { flows, inbox, authenticate: bearerAuth(deps.authToken) });
  await app.register(klarnaCallbackRoutes, { inbox, secret: deps.callbackSecret });
  await app.register(flowListRoutes, { flows: deps.flows, authenticate: bearerAuth(deps.authToken) });
  await app.register(codecRoutes, { codec: deps.payloadCodec, authenticate: bearerAuth(deps.authToken), corsOrigins: deps.codecCorsOrigins ?? [] });
  return app;
}
