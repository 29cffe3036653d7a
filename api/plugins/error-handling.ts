import type { FastifyError, FastifyInstance } from 'fastify';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';
import { isDatabaseUnavailableError } from '../../persistence/mongo.js';
import { ApiError, type ApiErrorBody } from '../errors.js';
import { isTemporalUnavailable } from '../flow-gateway.js';

/** Seconds a caller should wait before retrying a 503. */
export const RETRY_AFTER_SECONDS = 5;

/**
 * One shape for every error answer. Bad input is always a 4xx naming the field; a 500 means a
 * bug or an unavailable dependency, never something the caller sent.
 */
export function registerErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError, request, reply) => {
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
      return reply.status(error.statusCode).send({ error: error.code, message: error.message, issues: error.issues } satisfies ApiErrorBody);
    }
    // Fastify's own client errors: malformed JSON, wrong content type, body too large.
    if (typeof error.statusCode === 'number' && error.statusCode >= 400 && error.statusCode < 500) {
      const code = error.statusCode === 415 ? 'unsupported_media_type' : error.statusCode === 413 ? 'payload_too_large' : 'invalid_request';
      return reply.status(error.statusCode).send({ error: code, message: error.message } satisfies ApiErrorBody);
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

  app.setNotFoundHandler((request, reply) =>
    reply.status(404).send({ error: 'not_found', message: `No route ${request.method} ${request.url.split('?')[0]}` } satisfies ApiErrorBody),
  );
}
