import type { onRequestHookHandler } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { chargeWait, DEFAULT_CHARGE_WAIT_MS } from '../../contracts/charge.js';
import { longPollWait } from '../../contracts/long-poll.js';
import { idempotencyKey } from '../../contracts/tokenize.js';
import {
  startV2AuthorizationRequest,
  startV2ChargeRequest,
  startV2PaymentRequestRequest,
  v2AuthorizeFlowIdSchema,
  v2AuthorizeStatus,
  v2ChargeFlowIdSchema,
  v2HandOff,
  v2PaymentRequestFlowIdSchema,
  v2PaymentRequestStatus,
  type V2AuthorizeStatus,
  type V2PaymentRequestStatus,
} from '../../contracts/v2.js';
import { ApiError, errorResponses } from '../errors.js';
import type { StartOutcome } from '../flow-gateway.js';
import type { V2Flows } from '../v2-flows.js';

export interface V2RoutesOptions {
  v2: V2Flows;
  authenticate: onRequestHookHandler;
}

const keyHeader = z.object({ 'idempotency-key': idempotencyKey });
const statusCode = (outcome: StartOutcome<unknown>['outcome']) => (outcome === 'created' ? 201 : outcome === 'existing' ? 200 : 202);

/** The Web SDK's initiate callback wants the payment request id (seed 003: `paymentRequestId`). */
const webSdkInitiated = z.object({
  /** For the Klarna button's initiate promise; absent while the request is still being made (202) . */
  paymentRequestId: z.string().optional(),
  flow_id: z.string(),
  state: z.string(),
  payment_request_url: z.string().optional(),
});

/**
 * Checkout-facing Klarna v2 routes: the Payment Authorize API (acquiring-partner path), the v2 token
 * charge, the Payment Request API with tokenization and the Web SDK backend (seed 003).
 */
export const v2Routes: FastifyPluginAsyncZod<V2RoutesOptions> = async (app, { v2, authenticate }) => {
  app.addHook('onRequest', authenticate);

  app.post(
    '/v2/authorizations',
    {
      schema: {
        operationId: 'startV2Authorization',
        summary: 'Create a Klarna customer token, with or without a purchase, through the Payment Authorize API',
        description:
          'One flow per Idempotency-Key (`v2-authorize-<key>`). Answers with the outcome, or, when Klarna asks for a step-up, with `payment_request` (`payment_request_id` for the Web SDK, `payment_request_url` for a redirect) and `next_action: redirect_to_payment_request`; the flow then follows the payment request (webhook, or reading it) and finalizes within the network session token\'s hour. Each part (purchase, token) has its own result; PARTIALLY_COMPLETED keeps the approved part (seed 002). A request Klarna declined before is refused (409 `declined_before`) until something changes.',
        headers: keyHeader,
        body: startV2AuthorizationRequest,
        response: { 200: v2AuthorizeStatus, 201: v2AuthorizeStatus, 202: v2AuthorizeStatus, ...errorResponses },
      },
    },
    async (request, reply) => {
      const { outcome, status } = await v2.startAuthorization(request.headers['idempotency-key'], request.body);
      request.log.info({ flowId: status.flow_id, outcome, state: status.state }, 'v2 authorization requested');
      if (outcome === 'accepted') void reply.header('location', `/v2/authorizations/${encodeURIComponent(status.flow_id)}`);
      return reply.status(statusCode(outcome)).send(status);
    },
  );

  app.get(
    '/v2/authorizations/:flow_id',
    {
      schema: {
        operationId: 'getV2Authorization',
        summary: 'A v2 authorization: each part\'s result, the step-up\'s payment request, the outcome',
        params: z.object({ flow_id: v2AuthorizeFlowIdSchema }),
        querystring: z.object({ wait: longPollWait.optional() }),
        response: { 200: v2AuthorizeStatus, ...errorResponses },
      },
    },
    async (request) => {
      const { flow_id: flowId } = request.params;
      const status: V2AuthorizeStatus | undefined = request.query.wait ? await v2.authorizeStatusWhenChanged(flowId, request.query.wait) : await v2.authorizeStatus(flowId);
      if (!status) throw new ApiError(404, 'not_found', `No v2 authorization ${flowId}.`);
      return status;
    },
  );

  app.post(
    '/v2/charges',
    {
      schema: {
        operationId: 'startV2Charge',
        summary: 'Charge a vaulted v2 customer token (Payment Authorize API with Klarna-Customer-Token), at most once per Idempotency-Key',
        description:
          'The charge id (`v2-charge-<key>`) is Klarna\'s idempotency key: retries never make a second transaction. Without the shopper (`customer_present: false`, subscriptions) the token needs the scope `payment:customer_not_present` (else 409 `token_scope_mismatch`); with the shopper Klarna may ask for a step-up (answer `AWAITING_SHOPPER` with the payment request). Answers the outcome when it settles within `wait` (default 5s).',
        headers: keyHeader,
        querystring: z.object({ wait: chargeWait.optional() }),
        body: startV2ChargeRequest,
        response: { 200: v2AuthorizeStatus, 201: v2AuthorizeStatus, 202: v2AuthorizeStatus, ...errorResponses },
      },
    },
    async (request, reply) => {
      const { outcome, status } = await v2.startCharge(request.headers['idempotency-key'], request.body, request.query.wait ?? DEFAULT_CHARGE_WAIT_MS);
      request.log.info({ flowId: status.flow_id, tokenRef: status.token_ref, outcome, state: status.state }, 'v2 charge requested');
      if (outcome === 'accepted') void reply.header('location', `/v2/charges/${encodeURIComponent(status.flow_id)}`);
      return reply.status(statusCode(outcome)).send(status);
    },
  );

  app.get(
    '/v2/charges/:charge_id',
    {
      schema: {
        operationId: 'getV2Charge',
        summary: 'A v2 token charge: its result, transaction and any step-up',
        params: z.object({ charge_id: v2ChargeFlowIdSchema }),
        querystring: z.object({ wait: longPollWait.optional() }),
        response: { 200: v2AuthorizeStatus, ...errorResponses },
      },
    },
    async (request) => {
      const { charge_id: chargeId } = request.params;
      const status = request.query.wait ? await v2.authorizeStatusWhenChanged(chargeId, request.query.wait) : await v2.authorizeStatus(chargeId);
      if (!status) throw new ApiError(404, 'not_found', `No v2 charge ${chargeId}.`);
      return status;
    },
  );

  const startPaymentRequest = {
    headers: keyHeader,
    body: startV2PaymentRequestRequest,
  };

  app.post(
    '/v2/payment-requests',
    {
      schema: {
        operationId: 'startV2PaymentRequest',
        summary: 'Create a Klarna payment request with tokenization (token only, or token with a purchase) and follow it',
        description:
          'One flow per Idempotency-Key (`v2-payreq-<key>`). Answers once the payment request exists, with its `payment_request_id` and `payment_request_url`. `customer_interaction.return_url` / `app_return_url` are forwarded to Klarna unmodified. The flow completes on Klarna\'s webhook (or by reading the request): the customer token is vaulted and the network session token kept for the hand-off.',
        ...startPaymentRequest,
        response: { 200: v2PaymentRequestStatus, 201: v2PaymentRequestStatus, 202: v2PaymentRequestStatus, ...errorResponses },
      },
    },
    async (request, reply) => {
      const { outcome, status } = await v2.startPaymentRequest(request.headers['idempotency-key'], request.body);
      request.log.info({ flowId: status.flow_id, outcome, state: status.state }, 'v2 payment request requested');
      if (outcome === 'accepted') void reply.header('location', `/v2/payment-requests/${encodeURIComponent(status.flow_id)}`);
      return reply.status(statusCode(outcome)).send(status);
    },
  );

  app.post(
    '/v2/web-sdk/initiate',
    {
      schema: {
        operationId: 'initiateV2WebSdkPayment',
        summary: "The Klarna button's initiate callback, server side: creates the payment request (through a flow) and answers its paymentRequestId",
        description:
          'Call it from the `initiate` handler of `paymentButton.component({...})` (via the merchant\'s own server) and resolve the promise with the answer\'s `paymentRequestId`. The same body as `POST /v2/payment-requests`; read the flow at `GET /v2/payment-requests/{flow_id}`. A flow that could not create the request is a 409 naming why.',
        ...startPaymentRequest,
        response: { 200: webSdkInitiated, 201: webSdkInitiated, 202: webSdkInitiated, ...errorResponses },
      },
    },
    async (request, reply) => {
      const { outcome, status } = await v2.startPaymentRequest(request.headers['idempotency-key'], request.body);
      if (status.state === 'FAILED' && !status.payment_request) {
        throw new ApiError(409, 'payment_request_failed', `The payment request could not be created: ${status.failure?.kind ?? 'unknown'}.`);
      }
      request.log.info({ flowId: status.flow_id, outcome, state: status.state }, 'v2 Web SDK payment initiated');
      if (outcome === 'accepted') void reply.header('location', `/v2/payment-requests/${encodeURIComponent(status.flow_id)}`);
      return reply.status(statusCode(outcome)).send({
        flow_id: status.flow_id,
        state: status.state,
        ...(status.payment_request ? { paymentRequestId: status.payment_request.payment_request_id } : {}),
        ...(status.payment_request?.payment_request_url ? { payment_request_url: status.payment_request.payment_request_url } : {}),
      });
    },
  );

  const paymentRequestParams = z.object({ flow_id: v2PaymentRequestFlowIdSchema });

  app.get(
    '/v2/payment-requests/:flow_id',
    {
      schema: {
        operationId: 'getV2PaymentRequest',
        summary: 'A v2 payment request flow: the request\'s state, the vaulted token, the network session\'s expiry',
        params: paymentRequestParams,
        querystring: z.object({ wait: longPollWait.optional() }),
        response: { 200: v2PaymentRequestStatus, ...errorResponses },
      },
    },
    async (request) => {
      const { flow_id: flowId } = request.params;
      const status: V2PaymentRequestStatus | undefined = request.query.wait
        ? await v2.paymentRequestStatusWhenChanged(flowId, request.query.wait)
        : await v2.paymentRequestStatus(flowId);
      if (!status) throw new ApiError(404, 'not_found', `No v2 payment request flow ${flowId}.`);
      return status;
    },
  );

  app.get(
    '/v2/payment-requests/:flow_id/hand-off',
    {
      schema: {
        operationId: 'getV2PaymentRequestHandOff',
        summary: 'The klarna_network_session_token of a completed payment request, for the acquiring partner (valid 1 hour)',
        description: '409 `not_completed` before the request completed; 409 `network_session_token_expired` after its hour.',
        params: paymentRequestParams,
        response: { 200: v2HandOff, ...errorResponses },
      },
    },
    async (request) => v2.handOff(request.params.flow_id),
  );
};
