import { randomUUID } from 'node:crypto';
import type { Client } from '@temporalio/client';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/client';
import type { onRequestHookHandler } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { tokenRef, type ChargeStatus } from '../../contracts/charge.js';
import { tokenMaintenanceIdPrefix, tokenStatusView, tokenWithCharges, type TokenStatusView } from '../../contracts/token.js';
import { tokenView, type CustomerTokensRepository } from '../../persistence/customer-tokens-repository.js';
import type { FlowsRepository } from '../../persistence/flows-repository.js';
import { ApiError, errorResponses } from '../errors.js';
import { isTemporalUnavailable, temporarilyUnavailable, type FlowGateway } from '../flow-gateway.js';

export interface TokenRoutesOptions {
  gateway: FlowGateway;
  taskQueue: string;
  customerTokens: CustomerTokensRepository;
  flows: FlowsRepository;
  authenticate: onRequestHookHandler;
}

const params = z.object({ token_ref: tokenRef });
const accepted = z.object({ token_ref: z.string(), operation: z.enum(['refresh', 'cancel']), workflow_id: z.string() });

/** Managing vaulted customer tokens: read with their charges, refresh from Klarna, cancel. */
export const tokenRoutes: FastifyPluginAsyncZod<TokenRoutesOptions> = async (app, options) => {
  const { gateway, customerTokens, flows } = options;
  const client: Client = gateway.client;
  app.addHook('onRequest', options.authenticate);

  const stored = async (ref: string) => {
    const doc = await customerTokens.findByRef(ref);
    if (!doc) throw new ApiError(404, 'token_not_found', `No vaulted token ${ref}.`);
    return doc;
  };

  /** Runs a maintenance workflow within the start deadline: its result, or undefined (still running). */
  async function run(workflowType: string, workflowId: string, args: object, reuse: 'ALLOW_DUPLICATE' | 'REJECT_DUPLICATE'): Promise<TokenStatusView | undefined> {
    try {
      const handle = await gateway.within(gateway.deadlines.readMs, () =>
        client.workflow.start(workflowType, { taskQueue: options.taskQueue, workflowId, args: [args], workflowIdReusePolicy: reuse, workflowIdConflictPolicy: 'USE_EXISTING' }),
      );
      return await gateway.within(gateway.deadlines.startMs, () => handle.result() as Promise<TokenStatusView>);
    } catch (err) {
      if (err instanceof WorkflowExecutionAlreadyStartedError) return undefined;
      if (isTemporalUnavailable(err)) return undefined;
      throw err;
    }
  }

  app.get(
    '/v1/tokens/:token_ref',
    { schema: { summary: 'A vaulted customer token: masked, status, payment method, its charges', params, response: { 200: tokenWithCharges, ...errorResponses } } },
    async (request) => {
      const doc = await stored(request.params.token_ref);
      const charges = await flows.chargesOnToken(doc._id, 50);
      return {
        ...tokenView(doc),
        charges: charges.map((c) => {
          const status = c.status as unknown as ChargeStatus;
          return {
            charge_id: c._id,
            state: status.state,
            order_amount: status.order_amount,
            purchase_currency: status.purchase_currency,
            ...(status.order ? { order_id: status.order.order_id } : {}),
            ...(status.failure ? { failure_kind: status.failure.kind } : {}),
            started_at: status.started_at,
          };
        }),
      };
    },
  );

  app.post(
    '/v1/tokens/:token_ref/refresh',
    {
      schema: {
        summary: "Reads the token's status at Klarna and records it",
        description: '200 with the refreshed token; 202 when Klarna has not answered within the deadline (the refresh goes on).',
        params,
        response: { 200: tokenStatusView, 202: accepted, ...errorResponses },
      },
    },
    async (request, reply) => {
      const doc = await stored(request.params.token_ref);
      const workflowId = `${tokenMaintenanceIdPrefix.refresh}${doc._id}-${randomUUID()}`;
      const result = await run('refreshTokenWorkflow', workflowId, { token_ref: doc._id }, 'ALLOW_DUPLICATE');
      if (result) return result;
      return reply.status(202).send({ token_ref: doc._id, operation: 'refresh', workflow_id: workflowId });
    },
  );

  app.delete(
    '/v1/tokens/:token_ref',
    {
      schema: {
        summary: 'Cancels the token at Klarna (irreversible); later charges on it fail fast',
        description: '200 with the cancelled token (also when it was cancelled before); 202 when Klarna has not answered within the deadline (the cancel goes on and will happen).',
        params,
        response: { 200: tokenStatusView, 202: accepted, ...errorResponses },
      },
    },
    async (request, reply) => {
      const doc = await stored(request.params.token_ref);
      if (doc.status === 'CANCELLED' || doc.status === 'NOT_FOUND') return tokenView(doc);
      const workflowId = `${tokenMaintenanceIdPrefix.cancel}${doc._id}`;
      let result: TokenStatusView | undefined;
      try {
        result = await run('cancelTokenWorkflow', workflowId, { token_ref: doc._id, idempotency_key: workflowId }, 'REJECT_DUPLICATE');
      } catch (err) {
        if (isTemporalUnavailable(err)) throw temporarilyUnavailable('Temporal');
        throw err;
      }
      if (result) return result;
      const now = await stored(doc._id);
      if (now.status === 'CANCELLED') return tokenView(now);
      return reply.status(202).send({ token_ref: doc._id, operation: 'cancel', workflow_id: workflowId });
    },
  );
};
