import type { onRequestHookHandler } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { chargeWait, DEFAULT_CHARGE_WAIT_MS } from '../../contracts/charge.js';
import {
  billingPeriod,
  cancelSubscriptionRequest,
  changeSubscriptionRequest,
  createSubscriptionRequest,
  resumeSubscriptionRequest,
  subscriptionIdSchema,
  subscriptionKey,
  subscriptionStatus,
} from '../../contracts/subscription.js';
import { cancelSubscriptionUpdate, changeSubscriptionUpdate, pauseSubscriptionUpdate, resumeSubscriptionUpdate } from '../../workflows/definitions.js';
import { ApiError, errorResponses } from '../errors.js';
import type { SubscriptionFlows } from '../subscription-flows.js';

export interface SubscriptionRoutesOptions {
  subscriptions: SubscriptionFlows;
  authenticate: onRequestHookHandler;
}

const params = z.object({ subscription_id: subscriptionIdSchema });

/** Billing-facing: recurring charges of a vaulted token on a durable schedule (docs/flows.md#subscriptions). */
export const subscriptionRoutes: FastifyPluginAsyncZod<SubscriptionRoutesOptions> = async (app, { subscriptions, authenticate }) => {
  app.addHook('onRequest', authenticate);

  app.post(
    '/v1/subscriptions',
    {
      schema: {
        operationId: 'createSubscription',
        summary: 'Start a subscription: the token is charged once per billing period, on a durable schedule',
        description:
          'The Idempotency-Key names the subscription (`sub-<key>`): 201 new, 200 the same key and body again, 409 the same key with another body. Period n is due at billing_anchor + n × interval in time_zone; each is charged once (charge id `charge-sub-<key>-<n>`).',
        headers: z.object({ 'idempotency-key': subscriptionKey }),
        body: createSubscriptionRequest,
        response: { 200: subscriptionStatus, 201: subscriptionStatus, ...errorResponses },
      },
    },
    async (request, reply) => {
      const { outcome, status } = await subscriptions.create(request.headers['idempotency-key'], request.body);
      request.log.info({ subscriptionId: status.flow_id, tokenRef: status.token_ref, outcome }, 'subscription requested');
      return reply.status(outcome === 'created' ? 201 : 200).send(status);
    },
  );

  app.get(
    '/v1/subscriptions/:subscription_id',
    {
      schema: {
        operationId: 'getSubscription',
        summary: "A subscription's state, next billing date and latest periods with their charges",
        params,
        response: { 200: subscriptionStatus, ...errorResponses },
      },
    },
    async (request) => {
      const status = await subscriptions.status(request.params.subscription_id);
      if (!status) throw new ApiError(404, 'not_found', `No subscription ${request.params.subscription_id}.`);
      return status;
    },
  );

  app.post(
    '/v1/subscriptions/:subscription_id/change',
    {
      schema: {
        operationId: 'changeSubscription',
        summary: 'A new amount and order lines from the next period on (idempotent)',
        params,
        body: changeSubscriptionRequest,
        response: { 200: subscriptionStatus, ...errorResponses },
      },
    },
    async (request) => subscriptions.update(request.params.subscription_id, changeSubscriptionUpdate, [request.body]),
  );

  app.post(
    '/v1/subscriptions/:subscription_id/pause',
    {
      schema: {
        operationId: 'pauseSubscription',
        summary: 'Stop charging until resumed (idempotent); periods due meanwhile are skipped',
        params,
        response: { 200: subscriptionStatus, ...errorResponses },
      },
    },
    async (request) => subscriptions.update(request.params.subscription_id, pauseSubscriptionUpdate, []),
  );

  app.post(
    '/v1/subscriptions/:subscription_id/resume',
    {
      schema: {
        operationId: 'resumeSubscription',
        summary: 'ACTIVE again after a pause or a suspension (idempotent)',
        description: 'Periods that fell due while paused or suspended are skipped, unless `catch_up` says to charge them (charge_all, charge_latest).',
        params,
        body: resumeSubscriptionRequest.optional(),
        response: { 200: subscriptionStatus, ...errorResponses },
      },
    },
    async (request) => subscriptions.update(request.params.subscription_id, resumeSubscriptionUpdate, [request.body ?? {}]),
  );

  app.post(
    '/v1/subscriptions/:subscription_id/cancel',
    {
      schema: {
        operationId: 'cancelSubscription',
        summary: 'End the subscription (idempotent); `cancel_token: true` also cancels the token at Klarna',
        params,
        body: cancelSubscriptionRequest.optional(),
        response: { 200: subscriptionStatus, ...errorResponses },
      },
    },
    async (request) => {
      const id = request.params.subscription_id;
      try {
        return await subscriptions.update(id, cancelSubscriptionUpdate, [request.body ?? {}]);
      } catch (err) {
        // Cancelled before (the workflow has ended): the same answer again. Or cancelled, but the
        // token's cancel at Klarna has not answered within the deadline (token_cancel: requested).
        const current = err instanceof ApiError && (err.statusCode === 409 || err.statusCode === 503) ? await subscriptions.status(id).catch(() => undefined) : undefined;
        if (current?.state === 'CANCELLED') {
          // Asked now to cancel the token too: the same workflow as DELETE /v1/tokens/{ref}.
          if (request.body?.cancel_token && current.token_cancel !== 'done') return { ...current, token_cancel: await subscriptions.cancelToken(current.token_ref) };
          return current;
        }
        throw err;
      }
    },
  );

  app.post(
    '/v1/subscriptions/:subscription_id/charge-now',
    {
      schema: {
        operationId: 'chargeSubscriptionNow',
        summary: 'Charge the period due now unless it is paid (idempotent: at most one order per period)',
        description: '200 with the period once its charge settles within `wait` (default 5s, at most 30s); 202 with the period as it stands otherwise. 409 when paused, suspended, cancelled or nothing is due yet.',
        params,
        querystring: z.object({ wait: chargeWait.optional() }),
        response: { 200: billingPeriod, 202: billingPeriod, ...errorResponses },
      },
    },
    async (request, reply) => {
      const { settled, period } = await subscriptions.chargeNow(request.params.subscription_id, request.query.wait ?? DEFAULT_CHARGE_WAIT_MS);
      return reply.status(settled ? 200 : 202).send(period);
    },
  );
};
