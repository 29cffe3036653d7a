import type { Payload, PayloadCodec } from '@temporalio/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { PayloadDecryptionError } from '../../temporal/payload-codec.js';
import { ApiError, errorResponses } from '../errors.js';

// Temporal's remote codec protocol (the UI's "codec endpoint", `temporal --codec-endpoint`):
// POST <endpoint>/encode and <endpoint>/decode take and answer the protobuf JSON form of Payloads,
// `{"payloads":[{"metadata":{"encoding":"<base64>"},"data":"<base64>"}]}`, with the namespace in
// `X-Namespace`. The endpoint is <API>/codec. The UI calls it from the operator's browser, so it
// answers CORS preflights for the configured origins (CODEC_CORS_ORIGINS); the calls themselves
// take the same bearer token as the checkout routes.

// Protobuf JSON writes bytes as standard base64; readers also accept the URL-safe alphabet.
const base64 = z.string().regex(/^[A-Za-z0-9+/_-]*={0,2}$/, 'must be base64');
const jsonPayload = z.object({
  metadata: z.record(z.string(), base64).optional(),
  data: base64.optional(),
});
const jsonPayloads = z.object({ payloads: z.array(jsonPayload).max(10_000) });
type JsonPayload = z.infer<typeof jsonPayload>;
const codecHeaders = z.object({ 'x-namespace': z.string().max(1000).optional() });

const fromJson = (p: JsonPayload): Payload => ({
  metadata: Object.fromEntries(Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64')])),
  data: Buffer.from(p.data ?? '', 'base64'),
});
const toJson = (p: Payload): JsonPayload => ({
  metadata: Object.fromEntries(Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v ?? new Uint8Array()).toString('base64')])),
  data: Buffer.from(p.data ?? new Uint8Array()).toString('base64'),
});

const ALLOWED_HEADERS = 'content-type, authorization, x-namespace';

export interface CodecRoutesOptions {
  codec: PayloadCodec;
  authenticate: (request: FastifyRequest, reply: FastifyReply) => Promise<void>;
  /** Browser origins allowed to call the endpoint (the Temporal UI's, e.g. http://localhost:8233). */
  corsOrigins: readonly string[];
}

/** Operator-facing: the payload codec over HTTP, so the Temporal UI and CLI can show decrypted histories. */
export const codecRoutes: FastifyPluginAsyncZod<CodecRoutesOptions> = async (app, { codec, authenticate, corsOrigins }) => {
  const allowedOrigins = new Set(corsOrigins);

  // CORS first, so a 401 still reaches the UI's JavaScript (it shows the status instead of a network error).
  app.addHook('onRequest', async (request, reply) => {
    reply.header('vary', 'Origin');
    const origin = request.headers.origin;
    if (origin && allowedOrigins.has(origin)) {
      reply.header('access-control-allow-origin', origin);
      // The UI's "include cross-origin credentials" setting sends cookies; allowed for listed origins only.
      reply.header('access-control-allow-credentials', 'true');
    }
  });
  // Browsers send preflights without credentials: those are answered unauthenticated.
  app.addHook('onRequest', async (request, reply) => {
    if (request.method !== 'OPTIONS') await authenticate(request, reply);
  });

  for (const operation of ['encode', 'decode'] as const) {
    app.options(`/codec/${operation}`, { schema: { hide: true } }, async (request, reply) => {
      if (request.headers.origin && allowedOrigins.has(request.headers.origin)) {
        reply
          .header('access-control-allow-methods', 'POST, OPTIONS')
          .header('access-control-allow-headers', ALLOWED_HEADERS)
          .header('access-control-max-age', '600');
      }
      return reply.status(204).send();
    });

    app.post(
      `/codec/${operation}`,
      {
        bodyLimit: 8 * 1_048_576,
        schema: {
          operationId: operation === 'decode' ? 'codecDecode' : 'codecEncode',
          summary: operation === 'decode' ? 'Decode (decrypt) payloads for the Temporal UI and CLI' : 'Encode (encrypt) payloads for the Temporal UI and CLI',
          description:
            "Temporal's remote codec protocol: the protobuf JSON form of Payloads in and out. Payloads that are not encrypted pass through decode unchanged.",
          headers: codecHeaders,
          body: jsonPayloads,
          response: { 200: jsonPayloads, ...errorResponses },
        },
      },
      async (request) => {
        const payloads = request.body.payloads.map(fromJson);
        try {
          const out = operation === 'decode' ? await codec.decode(payloads) : await codec.encode(payloads);
          return { payloads: out.map(toJson) };
        } catch (err) {
          if (err instanceof PayloadDecryptionError) throw new ApiError(400, 'undecodable_payload', err.message);
          throw err;
        }
      },
    );
  }
};
