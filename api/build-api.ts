import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { Client } from '@temporalio/client';
import Fastify, { type FastifyServerOptions } from 'fastify';
import { jsonSchemaTransform, serializerCompiler, validatorCompiler, type ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { FlowsRepository } from '../persistence/flows-repository.js';
import type { KlarnaEventsRepository } from '../persistence/klarna-events-repository.js';
import type { TokenVault } from '../persistence/token-vault.js';
import { bearerAuth } from './plugins/bearer-auth.js';
import { registerErrorHandling } from './plugins/error-handling.js';
import { klarnaCallbackRoutes } from './routes/klarna-callbacks.js';
import { tokenizationRoutes } from './routes/tokenizations.js';
import { tokenizeFlows } from './tokenize-flows.js';

export interface ApiDeps {
  temporal: Client;
  taskQueue: string;
  flows: FlowsRepository;
  events: KlarnaEventsRepository;
  vault: TokenVault;
  callbackSecret: string;
  authToken?: string;
  defaultAbandonmentMs: number;
  /** How long POST /v1/tokenizations waits for Klarna's session (default 15 s). */
  sessionWaitMs?: number;
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
  const app = Fastify({ logger: deps.logger ?? false, bodyLimit: 1_048_576 }).withTypeProvider<ZodTypeProvider>();
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

  app.get('/health', { schema: { summary: 'Liveness', response: { 200: z.object({ status: z.literal('ok') }) } } }, async () => ({
    status: 'ok' as const,
  }));

  const flows = tokenizeFlows({
    client: deps.temporal,
    taskQueue: deps.taskQueue,
    flows: deps.flows,
    defaultAbandonmentMs: deps.defaultAbandonmentMs,
    sessionWaitMs: deps.sessionWaitMs,
  });
  await app.register(tokenizationRoutes, { flows, authenticate: bearerAuth(deps.authToken) });
  await app.register(klarnaCallbackRoutes, { flows, events: deps.events, vault: deps.vault, secret: deps.callbackSecret });
  return app;
}
