import type { onRequestHookHandler } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { tokenizeStatus } from '../../contracts/flow-status.js';
import { idempotencyKey, startTokenizationRequest, submitAuthorizationRequest } from '../../contracts/tokenize.js';
import { ApiError, errorResponses } from '../errors.js';
import type { TokenizeFlows } from '../tokenize-flows.js';

const authorizationReceived = z.object({ flow_id: z.string(), received: z.literal(true) });
const flowParams = z.object({ flow_id: z.string().regex(/^tokenize-[A-Za-z0-9._:-]{1,128}$/, 'must be a tokenize flow id') });

export interface TokenizationRoutesOptions {
  flows: TokenizeFlows;
  authenticate: onRequestHookHandler;
}

/** Checkout-facing: start a tokenization, pass on the shopper's authorization, read the outcome. */
export const tokenizationRoutes: FastifyPluginAsyncZod<TokenizationRoutesOptions> = async (app, { flows, authenticate }) => {
  app.addHook('onRequest', authenticate);

  app.post(
    '/v1/tokenizations',
    {
      schema: {
        summary: 'Start a tokenization (Klarna intent tokenize)',
        description:
          'Creates the Klarna session and answers with what the checkout needs for the Klarna widget. Repeating the call with the same Idempotency-Key (default: merchant_reference) returns the same flow.',
        headers: z.object({ 'idempotency-key': idempotencyKey.optional() }),
        body: startTokenizationRequest,
        response: { 200: tokenizeStatus, 201: tokenizeStatus, ...errorResponses },
      },
    },
    async (request, reply) => {
      const key = request.headers['idempotency-key'] ?? request.body.merchant_reference;
      const parsedKey = idempotencyKey.safeParse(key);
      if (!parsedKey.success) {
        throw new ApiError(400, 'invalid_request', 'merchant_reference cannot serve as the idempotency key; send an Idempotency-Key header.', [
          { field: 'headers.idempotency-key', message: parsedKey.error.issues[0]?.message ?? 'is invalid' },
        ]);
      }
      const { created, status } = await flows.start(parsedKey.data, request.body);
      request.log.info({ flowId: status.flow_id, created, state: status.state }, 'tokenization started');
      return reply.status(created ? 201 : 200).send(status);
    },
  );

  app.post(
    '/v1/tokenizations/:flow_id/authorization',
    {
      schema: {
        summary: "Submit the shopper's authorization_token from the Klarna widget",
        params: flowParams,
        body: submitAuthorizationRequest,
        response: { 202: authorizationReceived, ...errorResponses },
      },
    },
    async (request, reply) => {
      await flows.authorize(request.params.flow_id, { ...request.body, source: 'checkout' });
      request.log.info({ flowId: request.params.flow_id }, 'authorization submitted');
      // Accepted for processing: the flow decides (first authorization wins); GET shows the outcome.
      return reply.status(202).send({ flow_id: request.params.flow_id, received: true });
    },
  );

  app.get(
    '/v1/tokenizations/:flow_id',
    {
      schema: { summary: "A tokenization's state and outcome", params: flowParams, response: { 200: tokenizeStatus, ...errorResponses } },
    },
    async (request) => {
      const status = await flows.status(request.params.flow_id);
      if (!status) throw new ApiError(404, 'not_found', `No flow ${request.params.flow_id}.`);
      return status;
    },
  );
};
