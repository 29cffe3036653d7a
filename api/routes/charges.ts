import type { onRequestHookHandler } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { chargeFlowIdSchema, chargeStatus, chargeWait, DEFAULT_CHARGE_WAIT_MS, startChargeRequest } from '../../contracts/charge.js';
import { idempotencyKey } from '../../contracts/tokenize.js';
import type { ChargeFlows } from '../charge-flows.js';
import { longPollWait } from '../../contracts/long-poll.js';
import { ApiError, errorResponses } from '../errors.js';

export interface ChargeRoutesOptions {
  charges: ChargeFlows;
  authenticate: onRequestHookHandler;
}

/** Checkout- and billing-facing: charge a vaulted token, read a charge. */
export const chargeRoutes: FastifyPluginAsyncZod<ChargeRoutesOptions> = async (app, { charges, authenticate }) => {
  app.addHook('onRequest', authenticate);

  app.post(
    '/v1/charges',
    {
      schema: {
        summary: 'Charge a vaulted customer token (Klarna token order), at most once per Idempotency-Key',
        description:
          'The Idempotency-Key is the charge id and Klarna-Idempotency-Key: retrying the call (or anything failing on our side) never places a second order. Answers with the outcome when it settles within `wait` (default 5s, at most 30s): 201 new charge, 200 the same charge again; else 202 with the charge as it stands and a Location to read. Same key with another body: 409.',
        headers: z.object({ 'idempotency-key': idempotencyKey }),
        querystring: z.object({ wait: chargeWait.optional() }),
        body: startChargeRequest,
        response: { 200: chargeStatus, 201: chargeStatus, 202: chargeStatus, ...errorResponses },
      },
    },
    async (request, reply) => {
      const waitMs = request.query.wait ?? DEFAULT_CHARGE_WAIT_MS;
      const { outcome, status } = await charges.start(request.headers['idempotency-key'], request.body, waitMs);
      request.log.info({ chargeId: status.flow_id, tokenRef: status.token_ref, outcome, state: status.state }, 'charge requested');
      if (outcome === 'accepted') void reply.header('location', `/v1/charges/${encodeURIComponent(status.flow_id)}`);
      return reply.status(outcome === 'created' ? 201 : outcome === 'existing' ? 200 : 202).send(status);
    },
  );

  app.get(
    '/v1/charges/:charge_id',
    {
      schema: {
        summary: "A charge's state and outcome",
        description: 'With `?wait=` (at most 30s) the answer comes as soon as the charge settles or the wait ends.',
        params: z.object({ charge_id: chargeFlowIdSchema }),
        querystring: z.object({ wait: longPollWait.optional() }),
        response: { 200: chargeStatus, ...errorResponses },
      },
    },
    async (request) => {
      const wait = request.query.wait;
      const status = wait ? await charges.statusWhenChanged(request.params.charge_id, wait) : await charges.status(request.params.charge_id);
      if (!status) throw new ApiError(404, 'not_found', `No charge ${request.params.charge_id}.`);
      return status;
    },
  );
};
