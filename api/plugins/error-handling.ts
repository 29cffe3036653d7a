import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';
import { isDatabaseUnavailableError } from '../../persistence/mongo.js';
import { ApiError, type ApiErrorBody } from '../errors.js';
import { isTemporalUnavailable } from '../flow-gateway.js';

/** Seconds a caller should wait before retrying a 503. */
export const RETRY_AFTER_SECONDS = 5;

// Fastify's own client errors, in our words (never a framework code or its wording).
const frameworkClientErrors: Record<string, { error: string; message: (request: FastifyRequest) => string }> = {
  FST_ERR_CTP_INVALID_MEDIA_TYPE: { error: 'unsupported_media_type', message: () => 'Send the body as application/json.' },
  FST_ERR_CTP_BODY_TOO_LARGE: {
    error: 'payload_too_large',
    message: (request) => `The body is larger than this route takes (${request.routeOptions.bodyLimit ?? 1_048_576} bytes).`,
  },
  FST_ERR_CTP_EMPTY_JSON_BODY: { error: 'invalid_request', message: () => 'The body is empty but Content-Type says application/json.' },
  FST_ERR_CTP_INVALID_JSON_BODY: { error: 'invalid_request', message: () => 'The body is not valid JSON.' },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: { error: 'invalid_request', message: () => 'The body does not match its Content-Length.' },
};

/** A route's methods by path pattern, for 405 + Allow on a path that exists with another method. */
function routeTable(app: FastifyInstance) {
  const routes: { pattern: RegExp; methods: Set<string> }[] = [];
  app.addHook('onRoute', (route) => {
    const source = route.url
      .split('/')
      .map((part) => (part.startsWith(':') ? '[^/]+' : part === '*' ? '.*' : part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
      .join('/');
    const pattern = new RegExp(`^${source}$`);
    let entry = routes.find((r) => r.pattern.source === pattern.source);
    if (!entry) routes.push((entry = { pattern, methods: new Set() }));
    for (const method of [route.method].flat()) entry.methods.add(method);
  });
  return (path: string): string[] => {
    const methods = new Set<string>();
    for (const route of routes) if (route.pattern.test(path)) for (const m of route.methods) methods.add(m);
    return [...methods].sort();
  };
}

const pathOf = (url: string) => url.split('?')[0] ?? url;

/**
 * One shape for every error answer, `{error, message, issues?}` (api/errors.ts), whoever makes it:
 * our handlers, validation, Fastify's body parsing, routing (404, 405 with Allow, an over-long path parameter as 400, bad URLs),
 * and Node's HTTP parser (see `clientErrorHandler`). Bad input is always a 4xx naming the field;
 * a 500 means a bug, never something the caller sent, and never carries a stack trace.
 * Call before any route is added (it records them for 405).
 */
export function registerErrorHandling(app: FastifyInstance): void {
  const allowedMethods = routeTable(app);
  const methodNotAllowed = (request: FastifyRequest, reply: FastifyReply, allowed: string[]) => {
    const path = pathOf(request.url);
    return reply
      .status(405)
      .header('allow', allowed.join(', '))
      .send({ error: 'method_not_allowed', message: `${path} does not take ${request.method}; it takes ${allowed.join(', ')}.` } satisfies ApiErrorBody);
  };

  app.setErrorHandler((error: FastifyError, request, reply) => {
    // No route took the request (e.g. a QUERY without Content-Type fails Fastify's body check
    // before the not-found handler runs): a path that exists with other methods is a 405.
    if (request.is404) {
      const allowed = allowedMethods(pathOf(request.url));
      if (allowed.length) return methodNotAllowed(request, reply, allowed);
    }
    if (hasZodFastifySchemaValidationErrors(error)) {
      const where = error.validationContext ?? 'body';
      const issues = error.validation.map((issue) => {
        const path = issue.instancePath.replace(/^\//, '').replace(/\//g, '.');
        return { field: path ? `${where}.${path}` : where, message: issue.message ?? 'is invalid' };
      });
      return reply.status(400).send({ error: 'invalid_request', message: 'The request has invalid fields.', issues } satisfies ApiErrorBody);
    }
    if (error instanceof ApiError) {
      if (error.statusCode === 503) void reply.header('retry-after', String(RETRY_AFTER_SECONDS));
      for (const [name, value] of Object.entries(error.headers ?? {})) void reply.header(name, value);
      return reply.status(error.statusCode).send({ error: error.code, message: error.message, issues: error.issues } satisfies ApiErrorBody);
    }
    // Fastify's own client errors: malformed JSON, wrong content type, body too large.
    const known = error.code ? frameworkClientErrors[error.code] : undefined;
    if (known) return reply.status(error.statusCode ?? 400).send({ error: known.error, message: known.message(request) } satisfies ApiErrorBody);
    if (typeof error.statusCode === 'number' && error.statusCode >= 400 && error.statusCode < 500) {
      // Others (e.g. a JSON body with __proto__): the status stands, the wording is ours.
      const code = error.statusCode === 415 ? 'unsupported_media_type' : error.statusCode === 413 ? 'payload_too_large' : 'invalid_request';
      request.log.info({ code: error.code, err: error.message }, 'request refused');
      return reply.status(error.statusCode).send({ error: code, message: `The request was refused: ${STATUS_CODES[error.statusCode] ?? 'client error'}.` } satisfies ApiErrorBody);
    }
    // A dependency that is down is not a bug: answer at once, so callers (and Klarna) retry.
    if (isDatabaseUnavailableError(error) || isTemporalUnavailable(error)) {
      request.log.warn({ dependency: isDatabaseUnavailableError(error) ? 'mongodb' : 'temporal', err: error.message }, 'dependency unavailable');
      return reply
        .status(503)
        .header('retry-after', String(RETRY_AFTER_SECONDS))
        .send({ error: 'temporarily_unavailable', message: 'A dependency is unavailable; retry shortly.' } satisfies ApiErrorBody);
    }
    request.log.error({ err: error }, 'request failed');
    return reply.status(500).send({ error: 'internal_error', message: 'Something went wrong on our side; it is safe to retry.' } satisfies ApiErrorBody);
  });

  app.setNotFoundHandler((request, reply) => {
    const path = pathOf(request.url);
    const allowed = allowedMethods(path);
    if (allowed.length) return methodNotAllowed(request, reply, allowed);
    return reply.status(404).send({ error: 'not_found', message: `No route ${request.method} ${path}` } satisfies ApiErrorBody);
  });
}

/**
 * Fastify's `frameworkErrors`: errors it meets while routing, before any handler (a URL that does
 * not decode, a path parameter longer than the router takes).
 */
export const frameworkErrors = (error: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
  const path = pathOf(request.url);
  // These answers skip the hooks (no route yet): the safe headers of api/plugins/http-guard.ts here.
  void reply.header('x-content-type-options', 'nosniff').header('cache-control', 'no-store');
  if (error.code === 'FST_ERR_MAX_PARAM_LENGTH') {
    // Longer than the longest id any route takes: invalid input like any other bad path parameter
    // (a 400 naming it), not a 414 the OpenAPI document's clients would not expect.
    return reply.status(400).send({
      error: 'invalid_request',
      message: 'The request has invalid fields.',
      issues: [{ field: 'params', message: `a path parameter of ${path.slice(0, 200)} is longer than any valid id` }],
    } satisfies ApiErrorBody);
  }
  if (error.code === 'FST_ERR_BAD_URL') {
    return reply.status(400).send({ error: 'invalid_request', message: 'The URL does not decode (malformed percent-encoding).' } satisfies ApiErrorBody);
  }
  request.log.error({ err: error }, 'routing failed');
  return reply.status(500).send({ error: 'internal_error', message: 'Something went wrong on our side; it is safe to retry.' } satisfies ApiErrorBody);
};

/**
 * Fastify's `clientErrorHandler`: what Node's HTTP parser refuses before Fastify sees a request
 * (malformed request line or headers, headers too large, a timeout), written to the socket in the
 * same shape and with the same safe headers.
 */
export function clientErrorHandler(err: NodeJS.ErrnoException, socket: Socket): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const [status, body]: [number, ApiErrorBody] =
    err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
      ? [408, { error: 'request_timeout', message: 'The request took too long to arrive.' }]
      : err.code === 'HPE_HEADER_OVERFLOW'
        ? [431, { error: 'headers_too_large', message: 'The request headers are too large.' }]
        : [400, { error: 'invalid_request', message: 'The request is not valid HTTP.' }];
  const text = JSON.stringify(body);
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(text)}\r\n` +
        `X-Content-Type-Options: nosniff\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n${text}`,
    );
  }
  socket.destroy(err);
}
