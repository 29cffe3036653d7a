import type { SwaggerOptions } from '@fastify/swagger';
import type { FastifyInstance, RouteOptions } from 'fastify';
import { jsonSchemaTransform } from 'fastify-type-provider-zod';
import { apiErrorBody } from '../errors.js';
import { routeKind, type RouteKind } from '../route-kinds.js';

// The OpenAPI document (/openapi.json) as a contract a client generator and a linter can use:
// security schemes and per-operation security, servers, a license, an operationId for every
// operation, and every status each route can answer. Routes set their own summary, schemas and
// (preferably) operationId; whatever they leave out that follows from their kind
// (api/route-kinds.ts) is filled in here when the route is added, so routes written by anyone get
// it. Checked by `redocly lint` (recommended rules, test/api/openapi-contract.test.ts) and by
// schemathesis (`npm run fuzz:api`).

export interface OpenApiContractOptions {
  /** Where the API is reached (PUBLIC_BASE_URL); relative ("/") when not known. */
  serverUrl?: string;
  /** Whether bearer tokens are configured: without, the checkout routes are open (development). */
  authRequired: boolean;
  docsAuth?: boolean;
  healthAuth?: boolean;
}

const tags: Record<RouteKind, { name: string; description: string }> = {
  checkout: { name: 'checkout', description: 'Checkout-facing flows: start, pass on what the shopper did at Klarna, read the outcome. Bearer token.' },
  callback: { name: 'klarna-callbacks', description: "Klarna's callbacks, authenticated by each flow's own secret in the URL." },
  codec: { name: 'codec', description: "Temporal's remote payload codec, for the Temporal UI and CLI. Bearer token." },
  health: { name: 'health', description: 'Liveness and readiness, for orchestrators and load balancers.' },
  docs: { name: 'docs', description: 'This document.' },
};

const errorDescriptions: Record<string, string> = {
  '400': 'Invalid request: `issues` names every bad field (body, query, path parameter or header).',
  '401': 'Missing or wrong credentials (bearer token, or the flow\'s callback secret).',
  '404': 'No such flow or resource.',
  '409': 'Conflicts with the flow\'s state or with an earlier request under the same idempotency key.',
  '413': 'The body is larger than the route takes (1 MiB; 8 MiB for the codec).',
  '415': 'The body is not application/json.',
  '429': 'Rate limit exceeded (per caller, per source, or too many failed authentications): retry after `Retry-After` seconds.',
  '503': 'A dependency (Temporal or MongoDB) is unavailable: retry after `Retry-After` seconds.',
};

const retryAfterHeader = {
  'Retry-After': { description: 'Seconds to wait before retrying.', schema: { type: 'integer', minimum: 1 } },
};

/** `getV1ChargesByChargeId` from `GET /v1/charges/:charge_id`, for routes that set no operationId. */
export function derivedOperationId(method: string, url: string): string {
  const words = url
    .split('/')
    .filter(Boolean)
    .flatMap((part) => (part.startsWith(':') ? ['by', ...part.slice(1).split(/[^A-Za-z0-9]+/)] : part.split(/[^A-Za-z0-9]+/)))
    .filter(Boolean);
  return [method.toLowerCase(), ...words.map((w) => w[0]!.toUpperCase() + w.slice(1))].join('');
}

type RouteSchema = NonNullable<RouteOptions['schema']> & {
  hide?: boolean;
  operationId?: string;
  security?: Record<string, string[]>[];
  tags?: string[];
  response?: Record<string, unknown>;
};

/** The error answers a route of this kind and shape can give, beyond what it declares itself. */
function impliedErrors(kind: RouteKind, schema: RouteSchema, url: string, options: OpenApiContractOptions): string[] {
  const codes = new Set<string>(['429']);
  const hasInput = Boolean(schema.body || schema.querystring || schema.params || schema.headers);
  if (hasInput) codes.add('400');
  if (schema.body) ['413', '415'].forEach((c) => codes.add(c));
  if (kind === 'checkout' || kind === 'codec' || kind === 'callback') codes.add('401');
  if ((kind === 'docs' && options.docsAuth) || (kind === 'health' && options.healthAuth)) codes.add('401');
  if (kind === 'checkout' || kind === 'callback') codes.add('503');
  if (kind === 'checkout' && url.includes(':')) codes.add('404');
  return [...codes];
}

function securityFor(kind: RouteKind, options: OpenApiContractOptions): Record<string, string[]>[] {
  const bearer: Record<string, string[]>[] = options.authRequired ? [{ bearerAuth: [] }] : [{ bearerAuth: [] }, {}];
  switch (kind) {
    case 'checkout':
    case 'codec':
      return bearer;
    case 'callback':
      return [{ callbackSecret: [] }];
    case 'health':
      return options.healthAuth ? bearer : [];
    case 'docs':
      return options.docsAuth ? bearer : [];
  }
}

/**
 * Adds to every documented route what follows from its kind: operationId (derived from method and
 * path when the route set none), security, tag, and the error answers it can give (the API's
 * error shape). Call before any route is added.
 */
export function completeRouteContracts(app: FastifyInstance, options: OpenApiContractOptions): void {
  app.addHook('onRoute', (route) => {
    const schema = route.schema as RouteSchema | undefined;
    const method = [route.method].flat()[0] ?? 'GET';
    if (!schema || schema.hide || method === 'HEAD') return;
    const kind = routeKind(route.url);
    const response: Record<string, unknown> = { ...(schema.response ?? {}) };
    for (const code of impliedErrors(kind, schema, route.url, options)) response[code] ??= apiErrorBody;
    route.schema = {
      ...schema,
      operationId: schema.operationId ?? derivedOperationId(method, route.url),
      security: schema.security ?? securityFor(kind, options),
      tags: schema.tags ?? [tags[kind].name],
      response,
    } as RouteSchema;
  });
}

/** @fastify/swagger's options: the document's frame, and descriptions and headers for the error answers. */
export function swaggerOptions(options: OpenApiContractOptions): SwaggerOptions {
  return {
    openapi: {
      info: {
        title: 'Klarna token sagas API',
        version: '0.1.0',
        description:
          'Klarna tokenized payments as durable Temporal sagas. Every error answer has the body `{error, message, issues?}`. ' +
          'Answers carrying tokens or session data are `Cache-Control: no-store`. Bodies are JSON, at most 1 MiB (8 MiB for the codec). ' +
          'Rate limits per caller and per source answer 429 with `Retry-After`.',
        license: { name: 'Proprietary' },
        contact: { name: 'Klarna token sagas maintainers' },
      },
      servers: [{ url: options.serverUrl ?? '/', description: options.serverUrl ? 'This API' : 'The host serving this document' }],
      components: {
        securitySchemes: {
          bearerAuth: {
            type: 'http',
            scheme: 'bearer',
            description: 'One of API_AUTH_TOKEN / API_AUTH_TOKENS, as `Authorization: Bearer <token>`.',
          },
          callbackSecret: {
            type: 'apiKey',
            in: 'query',
            name: 'secret',
            description: "The flow's own callback secret, which the callback URLs given to Klarna carry (HMAC of the flow id).",
          },
          klarnaSignature: {
            type: 'apiKey',
            in: 'header',
            name: 'Klarna-Signature',
            description: 'Klarna v2 webhooks: hex HMAC-SHA256 of the raw body under the signing key named by `Klarna-Signing-Key-Id` (KLARNA_WEBHOOK_SIGNING_KEYS).',
          },
        },
      },
      tags: Object.values(tags).filter((t) => t.name !== 'docs'),
    },
    transform: jsonSchemaTransform,
    transformObject: (documentObject) => {
      const document = 'openapiObject' in documentObject ? documentObject.openapiObject : documentObject.swaggerObject;
      const paths = (document as { paths?: Record<string, Record<string, { responses?: Record<string, Record<string, unknown>> }>> }).paths ?? {};
      for (const operations of Object.values(paths)) {
        for (const operation of Object.values(operations)) {
          for (const [code, response] of Object.entries(operation.responses ?? {})) {
            if (response.description === 'Default Response') response.description = errorDescriptions[code] ?? 'Success.';
            const errorShaped = JSON.stringify(response.content ?? {}).includes('"error"');
            if ((code === '429' || code === '503') && errorShaped) response.headers = { ...retryAfterHeader, ...(response.headers ?? {}) };
          }
        }
      }
      return document;
    },
  } as SwaggerOptions;
}
