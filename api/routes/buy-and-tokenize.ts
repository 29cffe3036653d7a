import type { onRequestHookHandler } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { buyAndTokenizeFlowIdSchema, buyAndTokenizeStatus, startBuyAndTokenizeRequest } from '../../contracts/buy-and-tokenize.js';
import { cancellationReason } from '../../contracts/flow-status.js';
import { idempotencyKey, submitAuthorizationRequest } from '../../contracts/tokenize.js';
import type { AuthorizationInbox } from '../authorization-inbox.js';
import { buyAndTokenizeFlows } from '../buy-and-tokenize-flows.js';
import { ApiError, errorResponses } from '../errors.js';
import type { FlowGateway } from '../flow-gateway.js';
import { authorizationReceived } from './tokenizations.js';

const flowParams = z.object({ flow_id: buyAndTokenizeFlowIdSchema });

export interface BuyAndTokenizeRoutesOptions {
  gateway: FlowGateway;
  inbox: AuthorizationInbox;
  taskQueue: string;
  defaultAbandonmentMs: number;
  authenticate: onRequestHookHandler;
}

/**
 * Checkout-facing: buy and tokenize (charge the shopper now and keep a customer token for later
 * charges), with the same contract as `/v1/tokenizations`.
 */
export const buyAndTokenizeRoutes: FastifyPluginAsyncZod<BuyAndTokenizeRoutesOptions> = async (app, options) => {
  const { inbox } = options;
  const flows = buyAndTokenizeFlows(options);
  app.addHook('onRequest', options.authenticate);

  app.post(
    '/v1/buy-and-tokenize',
    {
      schema: {
        summary: 'Start a purchase that also saves the payment method (Klarna intent buy_and_tokenize)',
        description:
          'Creates the Klarna session and answers with what the checkout needs for the Klarna widget. Once the shopper authorizes, the flow creates the customer token and then places the order from the same authorization. Repeating the call with the same Idempotency-Key (default: merchant_reference) returns the same flow.',
        headers: z.object({ 'idempotency-key': idempotencyKey.optional() }),
        body: startBuyAndTokenizeRequest,
        response: { 200: buyAndTokenizeStatus, 201: buyAndTokenizeStatus, 202: buyAndTokenizeStatus, ...errorResponses },
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
      request.log.info({ flowId: status.flow_id, outcome, state: status.state }, 'buy and tokenize started');
      // 202: the flow exists but has not answered within the deadline; GET the Location for the session.
      if (outcome === 'accepted') void reply.header('location', `/v1/buy-and-tokenize/${encodeURIComponent(status.flow_id)}`);
      return reply.status(outcome === 'created' ? 201 : outcome === 'existing' ? 200 : 202).send(status);
    },
  );

  app.post(
    '/v1/buy-and-tokenize/:flow_id/authorization',
    {
      schema: {
        summary: "Submit the shopper's authorization_token from the Klarna widget",
        params: flowParams,
        body: submitAuthorizationRequest,
        response: { 202: authorizationReceived, ...errorResponses },
      },
    },
    async (request, reply) => {
      const accepted = await inbox.accept(request.params.flow_id, request.body, 'checkout', 'refuse');
      request.log.info({ flowId: request.params.flow_id, eventId: accepted.event_id, delivery: accepted.delivery }, 'authorization submitted');
      return reply.status(202).send({
        flow_id: request.params.flow_id,
        received: true,
        event_id: accepted.event_id,
        delivery: accepted.delivery === 'delivered' ? 'delivered' : 'pending',
      });
    },
  );

  app.get(
    '/v1/buy-and-tokenize/:flow_id',
    {
      schema: { summary: "A buy-and-tokenize flow's state and outcome", params: flowParams, response: { 200: buyAndTokenizeStatus, ...errorResponses } },
    },
    async (request) => {
      const status = await flows.status(request.params.flow_id);
      if (!status) throw new ApiError(404, 'not_found', `No flow ${request.params.flow_id}.`);
      return status;
    },
  );

  app.post(
    '/v1/buy-and-tokenize/:flow_id/cancel',
    {
      schema: {
        summary: 'Cancel a buy-and-tokenize flow that is still waiting for the shopper',
        description:
          'Ends the flow at once as CANCELLED with the reason (authorizations it holds are released) and answers with its final status. 409 once Klarna is creating the token or the flow has ended.',
        params: flowParams,
        body: z.object({ reason: cancellationReason }),
        response: { 200: buyAndTokenizeStatus, ...errorResponses },
      },
    },
    async (request) => {
      const status = await flows.cancel(request.params.flow_id, request.body.reason);
      request.log.info({ flowId: request.params.flow_id, reason: request.body.reason, state: status.state }, 'buy and tokenize cancelled');
      return status;
    },
  );
};
