import type { onRequestHookHandler } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { chargeFlowIdSchema } from '../../contracts/charge.js';
import { cancellationReason } from '../../contracts/flow-status.js';
import { longPollWait } from '../../contracts/long-poll.js';
import { hppStatusUpdateBody, startStepUpRequest, stepUpFlowId, stepUpFlowIdSchema, stepUpStatus, type StepUpStatus } from '../../contracts/step-up.js';
import { submitAuthorizationRequest } from '../../contracts/tokenize.js';
import { hppStatusCallbackKey } from '../../activities/step-up-activities.js';
import { isCallbackSecretValid } from '../../klarna/callback-auth.js';
import type { KlarnaEventDocument, KlarnaEventsRepository } from '../../persistence/klarna-events-repository.js';
import type { TokenVault } from '../../persistence/token-vault.js';
import { hppStatusSignal } from '../../workflows/definitions.js';
import type { AuthorizationInbox } from '../authorization-inbox.js';
import { ApiError, errorResponses } from '../errors.js';
import type { FlowGateway } from '../flow-gateway.js';
import type { StepUpFlows } from '../step-up-flows.js';
import { authorizationReceived } from './tokenizations.js';

export interface StepUpRoutesOptions {
  stepUps: StepUpFlows;
  inbox: AuthorizationInbox;
  authenticate: onRequestHookHandler;
}

const params = z.object({ charge_id: chargeFlowIdSchema });

/** Checkout-facing: start and read a charge's step-up recovery; submit the widget's authorization. */
export const stepUpRoutes: FastifyPluginAsyncZod<StepUpRoutesOptions> = async (app, { stepUps, inbox, authenticate }) => {
  app.addHook('onRequest', authenticate);

  app.post(
    '/v1/charges/:charge_id/step-up',
    {
      schema: {
        operationId: 'startStepUpRecovery',
        summary: 'Start (or return) the step-up recovery of a charge Klarna refused with a step_up_id',
        description:
          'Only for a charge that FAILED with `failure.kind: step_up_required` and a `step_up_id` while `customer_present` was true (else 409 `step_up_not_available`). One recovery per charge: the same call again returns it (200); other settings are a 409. The answer carries `client_token` (integration `sdk`) or `hpp.redirect_url` (integration `hpp`) and `next_action`.',
        params,
        body: startStepUpRequest,
        response: { 200: stepUpStatus, 201: stepUpStatus, 202: stepUpStatus, ...errorResponses },
      },
    },
    async (request, reply) => {
      const { outcome, status } = await stepUps.start(request.params.charge_id, request.body);
      request.log.info({ flowId: status.flow_id, chargeId: request.params.charge_id, outcome, state: status.state }, 'step-up recovery requested');
      if (outcome === 'accepted') void reply.header('location', `/v1/charges/${encodeURIComponent(request.params.charge_id)}/step-up`);
      return reply.status(outcome === 'created' ? 201 : outcome === 'existing' ? 200 : 202).send(status);
    },
  );

  app.get(
    '/v1/charges/:charge_id/step-up',
    {
      schema: {
        operationId: 'getStepUpRecovery',
        summary: "A charge's step-up recovery: its state, what the shopper must do next, and its order",
        params,
        querystring: z.object({ wait: longPollWait.optional() }),
        response: { 200: stepUpStatus, ...errorResponses },
      },
    },
    async (request) => {
      const flowId = stepUpFlowId(request.params.charge_id);
      const wait = request.query.wait;
      const status: StepUpStatus | undefined = wait ? await stepUps.statusWhenChanged(flowId, wait) : await stepUps.status(flowId);
      if (!status) throw new ApiError(404, 'not_found', `Charge ${request.params.charge_id} has no step-up recovery.`);
      return status;
    },
  );

  app.post(
    '/v1/charges/:charge_id/step-up/cancel',
    {
      schema: {
        operationId: 'cancelStepUpRecovery',
        summary: 'End a step-up recovery still waiting for the shopper (the widget said approved: false, or the shopper left)',
        description: '`shopper_declined` ends it DECLINED, the other reasons CANCELLED; an HPP session is disabled first. 409 once the order is being placed or the recovery has ended.',
        params,
        body: z.object({ reason: cancellationReason }),
        response: { 200: stepUpStatus, ...errorResponses },
      },
    },
    async (request) => {
      const status = await stepUps.cancel(request.params.charge_id, request.body.reason);
      request.log.info({ flowId: status.flow_id, reason: request.body.reason, state: status.state }, 'step-up recovery cancelled');
      return status;
    },
  );

  app.post(
    '/v1/charges/:charge_id/step-up/authorization',
    {
      schema: {
        operationId: 'submitStepUpAuthorization',
        summary: "Submit the shopper's authorization_token from the Klarna widget (SDK path)",
        params,
        body: submitAuthorizationRequest,
        response: { 202: authorizationReceived, ...errorResponses },
      },
    },
    async (request, reply) => {
      const flowId = stepUpFlowId(request.params.charge_id);
      const accepted = await inbox.accept(flowId, request.body, 'checkout', 'refuse');
      return reply.status(202).send({ flow_id: flowId, received: true, event_id: accepted.event_id, delivery: accepted.delivery === 'delivered' ? 'delivered' : 'pending' });
    },
  );
};

export interface HppStatusCallbackRoutesOptions {
  gateway: FlowGateway;
  events: KlarnaEventsRepository;
  vault: TokenVault;
  secret: string | readonly string[];
}

const acknowledged = z.object({ event_id: z.string(), duplicate: z.boolean(), delivery: z.enum(['pending', 'delivered', 'no_flow']) });

/**
 * Klarna-facing: the HPP status_update of a step-up recovery (merchant_urls.status_update, with
 * the flow's own secret). Stored in the inbox first (keyed by Klarna's event_id; authorization
 * tokens sealed), then signalled to the flow. When the signal cannot be given, the flow still
 * learns the status by reading the HPP session on its back-off timer.
 */
export const hppStatusCallbackRoutes: FastifyPluginAsyncZod<HppStatusCallbackRoutesOptions> = async (app, { gateway, events, vault, secret }) => {
  app.post(
    '/klarna/callbacks/hpp-status/:flow_id',
    {
      schema: {
        operationId: 'klarnaHppStatusCallback',
        summary: "Klarna's HPP status_update callback (merchant_urls.status_update) for a step-up recovery",
        params: z.object({ flow_id: stepUpFlowIdSchema }),
        querystring: z.object({ secret: z.string().max(200).optional(), hpp_session_id: z.string().max(200).optional() }),
        body: hppStatusUpdateBody,
        response: { 200: acknowledged, ...errorResponses },
      },
    },
    async (request) => {
      const { flow_id: flowId } = request.params;
      if (!isCallbackSecretValid(secret, hppStatusCallbackKey(flowId), request.query.secret ?? '')) {
        throw new ApiError(401, 'unauthorized', 'Wrong or missing callback secret.');
      }
      const { session } = request.body;
      if (request.query.hpp_session_id && request.query.hpp_session_id !== session.session_id) {
        throw new ApiError(400, 'invalid_request', 'The callback names another HPP session than its URL.');
      }
      const eventId = `hpp_${request.body.event_id}`.slice(0, 200);
      const fresh = await events.storeOnce({
        _id: eventId,
        source: 'hpp_status_update',
        flow_id: flowId,
        session_id: session.session_id,
        payload: {
          status: session.status,
          ...(session.updated_at ? { updated_at: session.updated_at } : {}),
          ...(session.order_id ? { order_id: session.order_id } : {}),
          ...(session.authorization_token ? { authorization_token: vault.seal(session.authorization_token) } : {}),
        },
        received_at: new Date(),
        delivery: 'pending',
      });
      if (!fresh) {
        const previous = await events.find(eventId);
        if (previous && previous.delivery !== 'pending') return { event_id: eventId, duplicate: true, delivery: previous.delivery };
      }
      let delivery: KlarnaEventDocument['delivery'] = 'pending';
      try {
        await gateway.within(gateway.deadlines.signalMs, () =>
          gateway.client.workflow.getHandle(flowId).signal(hppStatusSignal, {
            session_id: session.session_id,
            status: session.status,
            event_id: eventId,
            ...(session.updated_at ? { updated_at: session.updated_at } : {}),
            ...(session.expires_at ? { expires_at: session.expires_at } : {}),
            ...(session.authorization_token ? { authorization_token: session.authorization_token } : {}),
            ...(session.order_id ? { order_id: session.order_id } : {}),
            ...(session.klarna_reference ? { klarna_reference: session.klarna_reference } : {}),
          }),
        );
        delivery = 'delivered';
      } catch (err) {
        // The flow has ended (or never existed): kept and acknowledged. Otherwise the flow reads the HPP session itself.
        if (err instanceof Error && err.name === 'WorkflowNotFoundError') delivery = 'no_flow';
      }
      if (delivery !== 'pending') await events.markDelivery([eventId], delivery, new Date()).catch(() => undefined);
      request.log.info({ flowId, eventId, hppStatus: session.status, delivery, duplicate: !fresh }, 'HPP status update received');
      return { event_id: eventId, duplicate: !fresh, delivery };
    },
  );
};
