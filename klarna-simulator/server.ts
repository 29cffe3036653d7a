import { randomUUID, timingSafeEqual } from 'node:crypto';
import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { CallbackDispatcher } from './callbacks.js';
import { contextOf, type RecordedRequest } from './context.js';
import type { SimulatorDeps } from './deps.js';
import { errorBodyFor, errorForStatus, isV2Path, KlarnaError, sendKlarnaError } from './errors.js';
import { sleep, takeFault } from './faults.js';
import { createIdempotency } from './idempotency.js';
import { registerControlRoutes } from './routes/controls.js';
import { registerV2ControlRoutes } from './routes/controls-v2.js';
import { registerCustomerTokenV1Routes } from './routes/customer-token-v1.js';
import { registerHppV1Routes } from './routes/hpp-v1.js';
import { expireDuePaymentRequests, registerV2Routes } from './routes/v2.js';
import { registerPaymentsV1Routes } from './routes/payments-v1.js';
import { SimStore } from './state/store.js';

export interface KlarnaSimulatorOptions {
  username: string;
  password: string;
  /** Base URL for links the simulator hands out (purchase page, redirect_url); default: the request's Host. */
  publicUrl?: string;
  logger?: boolean | object;
  /**
   * The /_sim controls and shopper pages. Default: on, except with NODE_ENV=production (a
   * production build never exposes them unless asked in code). false: not registered at all.
   */
  controls?: boolean;
  /**
   * Real-time length of Klarna's 1 s of retry wait (default 1000: Klarna's schedule). Tests may
   * shorten it; every retry schedule (authorization callback, HPP status_update, v2 webhooks)
   * scales with it. Retries are also due on the simulator clock (POST /_sim/clock/advance).
   */
  callbackRetryBaseMs?: number;
  /** v2 API key (`Authorization: Basic <key>`); v2 paths also accept the v1 Basic credentials. */
  apiKey?: string;
  /**
   * v2 webhook endpoints configured at start (Klarna's portal subscription), kept across
   * POST /_sim/reset. More can be registered with POST /_sim/webhooks.
   */
  webhooks?: { url: string; signing_key: string; signing_key_id?: string; event_types?: string[] }[];
}

export const CONTROL_PREFIX = '/_sim';
const isControlPath = (url: string) => url === CONTROL_PREFIX || url.startsWith(`${CONTROL_PREFIX}/`);
const pathOf = (url: string) => url.split('?')[0] ?? url;

function credentialsMatch(header: string | undefined, username: string, password: string): boolean {
  if (!header?.startsWith('Basic ')) return false;
  const given = Buffer.from(header.slice(6).trim(), 'base64');
  const expected = Buffer.from(`${username}:${password}`);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/** Paths carry authorization and customer tokens: logs show them shortened. */
export function redactPath(url: string): string {
  return pathOf(url).replace(/\/(authorizations|tokens|sessions|purchase)\/([^/]{4})[^/]*/g, '/$1/$2…');
}

function loggerOptions(logger: KlarnaSimulatorOptions['logger']): boolean | object {
  if (!logger) return false;
  const base = typeof logger === 'object' ? logger : {};
  return {
    ...base,
    serializers: {
      req: (req: { method: string; url: string }) => ({ method: req.method, url: redactPath(req.url) }),
      ...((base as { serializers?: object }).serializers ?? {}),
    },
  };
}

/** Builds the simulator (not listening). State lives in the instance; two instances share nothing. */
export async function buildKlarnaSimulator(options: KlarnaSimulatorOptions): Promise<FastifyInstance> {
  // The request id is the correlation id, so simulator log lines match Klarna-Correlation-Id.
  const app = Fastify({ logger: loggerOptions(options.logger), genReqId: () => randomUUID(), return503OnClosing: false });
  const store = new SimStore();
  store.baseWebhooks = (options.webhooks ?? []).map((w, i) => ({
    webhook_id: `krn:partner:global:notification:webhook:configured-${i + 1}`,
    url: w.url,
    signing_key_id: w.signing_key_id ?? `configured-${i + 1}`,
    signing_key: w.signing_key,
    event_types: w.event_types ?? [],
  }));
  store.reset();
  const callbacks = new CallbackDispatcher(store, (options.callbackRetryBaseMs ?? 1_000) / 1_000, app.log);
  const deps: SimulatorDeps = {
    store,
    merchant: options.username,
    callbacks,
    publicUrl: (request) => (options.publicUrl ?? `${request.protocol}://${request.host}`).replace(/\/+$/, ''),
  };
  const idempotency = createIdempotency(deps);
  const controls = options.controls ?? process.env.NODE_ENV !== 'production';

  // JSON only, like Klarna; an empty body is "no body" (controls accept that), bad JSON is a 400.
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, body, done) => {
    const text = typeof body === 'string' ? body : body.toString('utf8');
    if (!text.trim()) return done(null, undefined);
    try {
      done(null, JSON.parse(text));
    } catch {
      done(new KlarnaError(400, 'BAD_REQUEST', ['Request body is not valid JSON']), undefined);
    }
  });
  // HTML forms on the shopper pages post form-encoded bodies to /_sim; Klarna paths stay JSON-only.
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (request, body, done) => {
    if (!isControlPath(request.url)) return done(errorForStatus(415), undefined);
    // An empty form field means "not given", as an absent JSON field would.
    const fields = [...new URLSearchParams(typeof body === 'string' ? body : body.toString('utf8'))].filter(([, v]) => v.trim() !== '');
    done(null, Object.fromEntries(fields));
  });

  app.addHook('onRequest', async (request, reply) => {
    const ctx = contextOf(request);
    ctx.at = store.clock.iso();
    reply.header('Klarna-Correlation-Id', ctx.correlationId);
    if (!isControlPath(request.url)) {
      // Recorded at arrival so dropped requests show up too; the Authorization header never is.
      const record: RecordedRequest = {
        method: request.method,
        path: pathOf(request.url),
        status: null,
        body: undefined,
        at: ctx.at,
        correlation_id: ctx.correlationId,
        route: request.routeOptions.url,
      };
      const key = request.headers['klarna-idempotency-key'];
      if (typeof key === 'string') record.idempotency_key = key;
      ctx.record = record;
      store.record(record);
      // Credentials first, before the body is even parsed: Klarna answers 401 to anything else.
      const apiKeyOk = options.apiKey !== undefined && isV2Path(request.url) && request.headers.authorization === `Basic ${options.apiKey}`;
      if (!apiKeyOk && !credentialsMatch(request.headers.authorization, options.username, options.password)) {
        ctx.unauthorized = true;
        reply.header('WWW-Authenticate', 'Basic realm="Klarna API"');
        return sendKlarnaError(request, reply, new KlarnaError(401, 'UNAUTHORIZED', ['Unauthorized: invalid or missing credentials']));
      }
    }
  });

  app.addHook('preValidation', async (request, reply) => {
    const ctx = contextOf(request);
    if (!ctx.record || ctx.unauthorized) return;
    ctx.record.body = request.body;
    const fault = takeFault(store, request.method, ctx.record.path, request.routeOptions.url, 'before');
    if (!fault) return idempotency.before(request, reply);
    if (fault.latency_ms > 0) await sleep(fault.latency_ms);
    if (fault.drop) {
      ctx.record.fault = 'drop';
      reply.hijack();
      request.raw.socket.destroy();
      return reply;
    }
    if (fault.status) {
      ctx.record.fault = 'status';
      const err = errorForStatus(fault.status);
      return sendKlarnaError(request, reply, fault.error_code ? new KlarnaError(err.statusCode, fault.error_code, err.errorMessages) : err);
    }
    ctx.record.fault = 'latency';
    return idempotency.before(request, reply);
  });

  app.addHook('onSend', async (request: FastifyRequest, reply: FastifyReply, payload) => {
    const ctx = contextOf(request);
    if (ctx.idempotentReplay) reply.header('X-Sim-Idempotent-Replay', 'true');
    if (!ctx.record) return payload;
    idempotency.after(request, reply.statusCode, payload);
    let out = payload;
    const fault = ctx.record.fault || ctx.unauthorized ? undefined : takeFault(store, request.method, ctx.record.path, request.routeOptions.url, 'after');
    if (fault) {
      if (fault.latency_ms > 0) await sleep(fault.latency_ms);
      if (fault.drop) {
        // Processed, but the answer is lost on the way: what idempotency keys exist for.
        ctx.record.fault = 'drop-after';
        ctx.record.status = reply.statusCode;
        request.raw.socket.destroy();
        return payload;
      }
      if (fault.status) {
        ctx.record.fault = 'status-after';
        const err = errorForStatus(fault.status);
        reply.code(err.statusCode).type('application/json');
        out = JSON.stringify(errorBodyFor(request.url, fault.error_code ? new KlarnaError(err.statusCode, fault.error_code, err.errorMessages) : err, ctx.correlationId));
      } else ctx.record.fault = 'latency-after';
    }
    ctx.record.status = reply.statusCode;
    if (typeof out === 'string' && out) {
      try {
        ctx.record.response = JSON.parse(out);
      } catch {
        ctx.record.response = out.length > 500 ? `${out.slice(0, 500)}…` : out;
      }
    }
    return out;
  });

  // Requests that end without onSend (dropped connections) must not hold their idempotency key.
  app.addHook('onResponse', async (request) => idempotency.release(request));
  app.addHook('onRequestAbort', async (request) => idempotency.release(request));

  app.setErrorHandler((error: FastifyError | KlarnaError, request, reply) => {
    if (error instanceof KlarnaError) return sendKlarnaError(request, reply, error);
    const status = error.statusCode;
    if (status && status >= 400 && status < 500) return sendKlarnaError(request, reply, errorForStatus(status, error.message));
    request.log.error({ err: error }, 'simulator error');
    return sendKlarnaError(request, reply, errorForStatus(500));
  });

  app.setNotFoundHandler(async (request, reply) => {
    // Unknown paths still need credentials on Klarna's side (checked in preValidation first).
    return sendKlarnaError(request, reply, new KlarnaError(404, 'NOT_FOUND', [`No such resource: ${request.method} ${pathOf(request.url)}`]));
  });

  registerPaymentsV1Routes(app, deps);
  registerCustomerTokenV1Routes(app, deps);
  registerHppV1Routes(app, deps);
  registerV2Routes(app, deps);
  if (controls) {
    registerControlRoutes(app, deps);
    registerV2ControlRoutes(app, deps);
  }

  // Payment requests expire on their own (EXPIRED + webhook), not only when next read.
  const sweeper = setInterval(() => expireDuePaymentRequests(deps), 1_000);
  sweeper.unref();
  app.addHook('onClose', async () => {
    clearInterval(sweeper);
    callbacks.close();
  });
  return app;
}

/** A listening simulator. */
export interface KlarnaSimulator {
  url: string;
  app: FastifyInstance;
  close(): Promise<void>;
}

/** Builds and listens; port 0 picks a free port. The url uses 127.0.0.1, not the bind address. */
export async function startKlarnaSimulator(options: KlarnaSimulatorOptions & { port?: number; host?: string }): Promise<KlarnaSimulator> {
  const host = options.host ?? '127.0.0.1';
  const app = await buildKlarnaSimulator(options);
  await app.listen({ port: options.port ?? 0, host });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : options.port;
  const shownHost = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;
  const url = `http://${shownHost}:${port}`;
  return { url, app, close: () => app.close() };
}
