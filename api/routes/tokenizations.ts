import type { onRequestHookHandler } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { cancellationReason, tokenizeStatus } from '../../contracts/flow-status.js';
import { longPollWait } from '../../contracts/long-poll.js';
import { idempotencyKey, startTokenizationRequest, submitAuthorizationRequest, tokenizeFlowIdSchema } from '../../contracts/tokenize.js';
import type { AuthorizationInbox } from '../authorization-inbox.js';
import { ApiError, errorResponses } from '../errors.js';
import type { TokenizeFlows } from '../tokenize-flows.js';

/** The answer to a submitted authorization (also the buy-and-tokenize routes'). */
export const authorizationReceived = z.object({
  flow_id: z.string(),
  received: z.literal(true),
  event_id: z.string(),
  /** delivered: the flow has it; pending: stored, the flow collects it from the inbox shortly. */
  delivery: z.enum(['delivered', 'pending']),
});
const flowParams = z.object({ flow_id: tokenizeFlowIdSchema });

/** The OpenAPI document's example start (the README's walk-through). */
const startTokenizationExample = {
  merchant_reference: 'sub-1001',
  purchase_country: 'SE',
  purchase_currency: 'SEK',
  locale: 'sv-SE',
  description: 'Coffee subscription',
  order_lines: [
    {
      type: 'digital',
      name: 'Coffee, monthly',
      quantity: 1,
      unit_price: 19900,
      total_amount: 19900,
      subscription: { name: 'Coffee', interval: 'MONTH', interval_count: 1 },
    },
  ],
};

export interface TokenizationRoutesOptions {
  flows: TokenizeFlows;
  inbox: AuthorizationInbox;
  authenticate: onRequestHookHandler;
}

/** Checkout-facing: start a tokenization, pass on the shopper's authorization, read the outcome. */
export const tokenizationRoutes: FastifyPluginAsyncZod<TokenizationRoutesOptions> = async (app, { flows, inbox, authenticate }) => {
  app.addHook('onRequest', authenticate);

  app.post(
    '/v1/tokenizations',
    {
      schema: {
        operationId: 'startTokenization',
        summary: 'Start a tokenization (Klarna intent tokenize)',
        description:
          'Creates the Klarna session and answers with what the checkout needs for the Klarna widget. Repeating the call with the same Idempotency-Key (default: merchant_reference) returns the same flow.',
        headers: z.object({ 'idempotency-key': idempotencyKey.optional() }),
        body: startTokenizationRequest.meta({ example: startTokenizationExample }),
        response: { 200: tokenizeStatus, 201: tokenizeStatus, 202: tokenizeStatus, ...errorResponses },
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
      const { outcome, status } = await flows.start(parsedKey.data, request.body);
      request.log.info({ flowId: status.flow_id, outcome, state: status.state }, 'tokenization started');
      // 202: the flow exists but has not answered within the deadline; GET the Location for the session.
      if (outcome === 'accepted') void reply.header('location', `/v1/tokenizations/${encodeURIComponent(status.flow_id)}`);
      return reply.status(outcome === 'created' ? 201 : outcome === 'existing' ? 200 : 202).send(status);
    },
  );

  app.post(
    '/v1/tokenizations/:flow_id/authorization',
    {
      schema: {
        operationId: 'submitTokenizationAuthorization',
        summary: "Submit the shopper's authorization_token from the Klarna widget",
        params: flowParams,
        body: submitAuthorizationRequest.meta({ example: { authorization_token: 'b4bd3423-24e3-4d9c-b1e5-7c6d4a0b8f1e', session_id: '3e4c5f1a-8a4b-4f0e-9a7c-2f1d6b9e0c3a' } }),
        response: { 202: authorizationReceived, ...errorResponses },
      },
    },
    async (request, reply) => {
      const accepted = await inbox.accept(request.params.flow_id, request.body, 'checkout', 'refuse');
      request.log.info({ flowId: request.params.flow_id, eventId: accepted.event_id, delivery: accepted.delivery }, 'authorization submitted');
      // Accepted for processing: stored first, then the flow verifies it with Klarna; GET shows the outcome.
      return reply.status(202).send({
        flow_id: request.params.flow_id,
        received: true,
        event_id: accepted.event_id,
        delivery: accepted.delivery === 'delivered' ? 'delivered' : 'pending',
      });
    },
  );

  app.get(
    '/v1/tokenizations/:flow_id',
    {
      schema: {
        operationId: 'getTokenization',
        summary: "A tokenization's state and outcome",
        description: 'With `?wait=` (e.g. `10s`, at most 30s) the answer comes as soon as the stored state changes, or when the wait ends: a long poll instead of polling.',
        params: flowParams,
        querystring: z.object({ wait: longPollWait.optional() }),
        response: { 200: tokenizeStatus, ...errorResponses },
      },
    },
    async (request) => {
      const wait = request.query.wait;
      const status = wait ? await flows.statusWhenChanged(request.params.flow_id, wait) : await flows.status(request.params.flow_id);
      if (!status) throw new ApiError(404, 'not_found', `No flow ${request.params.flow_id}.`);
      return status;
    },
  );

  app.post(
    '/v1/tokenizations/:flow_id/cancel',
    {
      schema: {
        operationId: 'cancelTokenization',
        summary: 'Cancel a tokenization that is still waiting (the shopper declined or closed the widget, or the merchant gave up)',
        description:
          'Ends the flow at once as CANCELLED with the reason and answers with its final status. 409 once Klarna is creating the token or the flow has ended. Repeating a cancel of a cancelled flow is a 409 naming the state.',
        params: flowParams,
        body: z.object({ reason: cancellationReason }),
        response: { 200: tokenizeStatus, ...errorResponses },
      },
    },
    async (request) => {
      const status = await flows.cancel(request.params.flow_id, request.body.reason);
      request.log.info({ flowId: request.params.flow_id, reason: request.body.reason, state: status.state }, 'tokenization cancelled');
      return status;
    },
  );
};
