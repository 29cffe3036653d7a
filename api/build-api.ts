import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { Client } from '@temporalio/client';
import type { PayloadCodec } from '@temporalio/common';
import Fastify, { type FastifyServerOptions } from 'fastify';
import { serializerCompiler, validatorCompiler, type ZodTypeProvider } from 'fastify-type-provider-zod';
import { maxBuyAndTokenizeFlowIdLength } from '../contracts/buy-and-tokenize.js';
import { maxFlowIdLength } from '../contracts/tokenize.js';
import type { CustomerTokensRepository } from '../persistence/customer-tokens-repository.js';
import type { FlowsRepository } from '../persistence/flows-repository.js';
import type { MerchantEventsRepository } from '../persistence/merchant-events-repository.js';
import type { KlarnaEventsRepository } from '../persistence/klarna-events-repository.js';
import type { TokenVault } from '../persistence/token-vault.js';
import { demoCheckoutRoutes } from './demo/checkout-routes.js';
import { bearerAuth } from './plugins/bearer-auth.js';
import { clientErrorHandler, frameworkErrors, registerErrorHandling } from './plugins/error-handling.js';
import { registerHttpGuard, type RateLimits } from './plugins/http-guard.js';
import { registerMetrics } from './plugins/metrics.js';
import { completeRouteContracts, swaggerOptions } from './plugins/openapi-contract.js';
import { buyAndTokenizeRoutes } from './routes/buy-and-tokenize.js';
import { codecRoutes } from './routes/codec.js';
import { chargeFlows } from './charge-flows.js';
import { chargeRoutes } from './routes/charges.js';
import { hppStatusCallbackRoutes, stepUpRoutes } from './routes/step-up.js';
import { stepUpFlows } from './step-up-flows.js';
import { subscriptionRoutes } from './routes/subscriptions.js';
import { subscriptionFlows } from './subscription-flows.js';
import { tokenRoutes } from './routes/tokens.js';
import { flowListRoutes } from './routes/flows.js';
import { merchantEventRoutes } from './routes/merchant-events.js';
import { healthRoutes } from './routes/health.js';
import { klarnaCallbackRoutes } from './routes/klarna-callbacks.js';
import { tokenizationRoutes } from './routes/tokenizations.js';
import { tokenizeFlows } from './tokenize-flows.js';
import { authorizationInbox, sweepInboxPeriodically } from './authorization-inbox.js';
import { flowGateway, type FlowDeadlines } from './flow-gateway.js';
import { klarnaWebhookRoutes } from './routes/klarna-webhooks.js';
import { v2Routes } from './routes/v2.js';
import { v2Flows } from './v2-flows.js';
import type { V2Repository } from '../persistence/v2-repository.js';
import type { WebhookSigningKey } from '../klarna/webhook-signature.js';

export interface ApiDeps {
  temporal: Client;
  taskQueue: string;
  flows: FlowsRepository;
  events: KlarnaEventsRepository;
  customerTokens: CustomerTokensRepository;
  /** Outbound merchant notifications and their delivery log. */
  merchantEvents: MerchantEventsRepository;
  vault: TokenVault;
  callbackSecret: string;
  /** CALLBACK_SECRET_PREVIOUS: during a rotation, callbacks under the previous secret still authenticate. */
  previousCallbackSecret?: string;
  /** Bearer token(s) the checkout routes take (API_AUTH_TOKEN[S]); any one of several is accepted. None: open (development). */
  authToken?: string | readonly string[];
  /** Also require the bearer token on /docs and /openapi.json (API_DOCS_AUTH), on /health and /ready (API_HEALTH_AUTH). */
  docsAuth?: boolean;
  healthAuth?: boolean;
  /** Rate limits (RATE_LIMIT_*); none when absent (tests, benchmarks). */
  rateLimits?: RateLimits;
  /** Fastify's trustProxy (API_TRUST_PROXY): whose X-Forwarded-For names the caller, for per-source limits. */
  trustProxy?: boolean | number | readonly string[];
  /** The API's public URL (PUBLIC_BASE_URL), as the OpenAPI document's server. */
  publicBaseUrl?: string;
  /** The payload codec of `temporal`'s data converter, served at /codec for the Temporal UI. */
  payloadCodec: PayloadCodec;
  /** Browser origins allowed to call /codec (the Temporal UI's). */
  codecCorsOrigins?: readonly string[];
  defaultAbandonmentMs: number;
  /**
   * Klarna v2: its storage, the webhook signing keys (KLARNA_WEBHOOK_SIGNING_KEYS) and when flows
   * read a payment request themselves. Absent: the v2 routes answer 503 where they need storage,
   * and every webhook is refused (no key).
   */
  v2?: { repository: V2Repository; signingKeys: readonly WebhookSigningKey[]; fallbackReadAfterMs?: number };
  /** Resolves when MongoDB answers; for `/ready`. */
  pingDatabase: () => Promise<unknown>;
  /** Deadlines of calls into Temporal (defaults in api/flow-gateway.ts). */
  deadlines?: Partial<FlowDeadlines>;
  /** Development only (api/main.ts never sets it in production mode): the demo checkout at /demo/checkout, on this Klarna simulator. */
  demo?: { simulatorUrl: string };
  logger?: FastifyServerOptions['logger'];
  /**
   * How often this instance re-signals shopper authorizations left pending in the inbox for over
   * 30 s (api/authorization-inbox.ts, `sweep`); default 60 s, 0: never (tests that watch the inbox).
   */
  inboxSweepIntervalMs?: number;
  /** GET /metrics with prom-client's process metrics too (the API process; api/plugins/metrics.ts). */
  processMetrics?: boolean;
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
    routerOptions: { maxParamLength: Math.max(maxFlowIdLength, maxBuyAndTokenizeFlowIdLength) },
    // A hop count trusts that many proxies in front of us.
    trustProxy: typeof deps.trustProxy === 'number' ? (_address: string, hop: number) => hop < (deps.trustProxy as number) : Array.isArray(deps.trustProxy) ? [...deps.trustProxy] : (deps.trustProxy as boolean | undefined),
    // `__proto__` / `constructor.prototype` keys in a JSON body are dropped, like any other
    // property a schema does not declare (not refused: the document allows unknown properties).
    onProtoPoisoning: 'remove',
    onConstructorPoisoning: 'remove',
    // Errors before any handler (routing, Node's HTTP parser) in the API's error shape too.
    frameworkErrors,
    clientErrorHandler,
  }).withTypeProvider<ZodTypeProvider>();
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  // Before any route: error shape (and 405s), then what every route gets from its kind
  // (api/route-kinds.ts): rate limits, authentication, safe headers, its OpenAPI contract.
  registerErrorHandling(app);
  const authTokens = (typeof deps.authToken === 'string' ? [deps.authToken] : (deps.authToken ?? [])).filter(Boolean);
  await registerHttpGuard(app, { authTokens, docsAuth: deps.docsAuth, healthAuth: deps.healthAuth, rateLimits: deps.rateLimits });
  const contract = { serverUrl: deps.publicBaseUrl, authRequired: authTokens.length > 0, docsAuth: deps.docsAuth, healthAuth: deps.healthAuth };
  completeRouteContracts(app, contract);
  // Request rate and latency by route pattern and status, at GET /metrics (a health-kind route).
  registerMetrics(app, { processMetrics: deps.processMetrics });

  await app.register(swagger, swaggerOptions(contract));
  await app.register(swaggerUi, { routePrefix: '/docs' });
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());

  await app.register(healthRoutes, { temporal: deps.temporal, pingDatabase: deps.pingDatabase });

  const gateway = flowGateway({ client: deps.temporal, flows: deps.flows, deadlines: deps.deadlines });
  const flows = tokenizeFlows({ gateway, taskQueue: deps.taskQueue, defaultAbandonmentMs: deps.defaultAbandonmentMs });
  const inbox = authorizationInbox({ gateway, events: deps.events, vault: deps.vault });
  const sweepEvery = deps.inboxSweepIntervalMs ?? 60_000;
  if (sweepEvery > 0) {
    const stopSweeping = sweepInboxPeriodically(inbox, sweepEvery, (err) => app.log.warn({ err: String(err) }, 'inbox sweep failed; tried again at the next turn'));
    app.addHook('onClose', async () => stopSweeping());
  }
  await app.register(tokenizationRoutes, { flows, inbox, authenticate: bearerAuth(deps.authToken) });
  await app.register(klarnaCallbackRoutes, {
    inbox,
    secret: deps.previousCallbackSecret ? [deps.callbackSecret, deps.previousCallbackSecret] : deps.callbackSecret,
  });
  await app.register(buyAndTokenizeRoutes, { gateway, inbox, taskQueue: deps.taskQueue, defaultAbandonmentMs: deps.defaultAbandonmentMs, authenticate: bearerAuth(deps.authToken) });
  const charges = chargeFlows({ gateway, taskQueue: deps.taskQueue, customerTokens: deps.customerTokens });
  await app.register(chargeRoutes, { charges, authenticate: bearerAuth(deps.authToken) });
  await app.register(stepUpRoutes, { stepUps: stepUpFlows({ gateway, taskQueue: deps.taskQueue }), inbox, authenticate: bearerAuth(deps.authToken) });
  await app.register(hppStatusCallbackRoutes, {
    gateway,
    events: deps.events,
    vault: deps.vault,
    secret: deps.previousCallbackSecret ? [deps.callbackSecret, deps.previousCallbackSecret] : deps.callbackSecret,
  });
  const subscriptions = subscriptionFlows({ gateway, taskQueue: deps.taskQueue, customerTokens: deps.customerTokens });
  await app.register(subscriptionRoutes, { subscriptions, authenticate: bearerAuth(deps.authToken) });
  await app.register(tokenRoutes, { gateway, taskQueue: deps.taskQueue, customerTokens: deps.customerTokens, flows: deps.flows, authenticate: bearerAuth(deps.authToken) });
  await app.register(flowListRoutes, { flows: deps.flows, authenticate: bearerAuth(deps.authToken) });
  await app.register(merchantEventRoutes, { merchantEvents: deps.merchantEvents, authenticate: bearerAuth(deps.authToken) });
  const v2 = v2Flows({ gateway, taskQueue: deps.taskQueue, flows: deps.flows, repository: deps.v2?.repository, vault: deps.vault, fallbackReadAfterMs: deps.v2?.fallbackReadAfterMs });
  await app.register(v2Routes, { v2, authenticate: bearerAuth(deps.authToken) });
  await app.register(klarnaWebhookRoutes, { gateway, events: deps.events, vault: deps.vault, signingKeys: deps.v2?.signingKeys ?? [] });
  await app.register(codecRoutes, { codec: deps.payloadCodec, authenticate: bearerAuth(deps.authToken), corsOrigins: deps.codecCorsOrigins ?? [] });
  if (deps.demo) await app.register(demoCheckoutRoutes, { simulatorUrl: deps.demo.simulatorUrl, vault: deps.vault, customerTokens: deps.customerTokens });
  return app;
}
