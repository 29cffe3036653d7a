import type { onRequestHookHandler } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { nonBlankText } from '../../contracts/text.js';
import { buyAndTokenizeState } from '../../contracts/buy-and-tokenize.js';
import { chargeState } from '../../contracts/charge.js';
import { subscriptionState } from '../../contracts/subscription.js';
import { stepUpState } from '../../contracts/step-up.js';
import { flowFailure, flowType, tokenizeState } from '../../contracts/flow-status.js';
import type { FlowsRepository } from '../../persistence/flows-repository.js';
import { errorResponses } from '../errors.js';

export interface FlowListRoutesOptions {
  flows: FlowsRepository;
  authenticate: onRequestHookHandler;
}

/**
 * A cursor is a position in the list, `<created_at, epoch ms>~<flow id>` of the last flow of a
 * page: the next page starts after it. Every string of that form is a position (the document's
 * pattern says which strings those are), so any well-formed cursor is answered, never refused.
 */
const cursorPattern = /^(\d{1,15})~([A-Za-z0-9._:-]{1,200})$/;
const encodeCursor = (doc: { created_at: Date; _id: string }) => `${doc.created_at.getTime()}~${doc._id}`;
function decodeCursor(cursor: string): { created_at: Date; _id: string } {
  const [, at = '0', id = ''] = cursorPattern.exec(cursor) ?? [];
  // Past the largest Date (year 275760): the same position as the largest.
  return { created_at: new Date(Math.min(Number(at), 8.64e15)), _id: id };
}

/** Every state of every flow type (one enum, so the OpenAPI document lists them). */
const anyFlowState = z.enum([...new Set([...tokenizeState.options, ...buyAndTokenizeState.options, ...chargeState.options, ...subscriptionState.options, ...stepUpState.options])] as [string, ...string[]]);

const listQuery = z.object({
  merchant_reference: nonBlankText(255).optional(),
  type: flowType.optional(),
  state: anyFlowState.optional(),
  /** Flows started at or after this instant (ISO 8601). */
  since: z.iso.datetime({ offset: true }).optional(),
  limit: z.coerce.number().int().min(1).max(100).default(20),
  cursor: z.string().regex(cursorPattern, 'must be a next_cursor this API gave out').optional(),
});

/** What every flow type shares; GET the flow's own URL for the rest. */
const flowSummary = z.object({
  flow_id: z.string(),
  flow_type: flowType,
  state: anyFlowState,
  merchant_reference: z.string(),
  failure: flowFailure.optional(),
  started_at: z.string(),
  updated_at: z.string(),
});

const flowList = z.object({
  flows: z.array(flowSummary),
  /** Pass as `cursor` for the next page; absent on the last page. */
  next_cursor: z.string().optional(),
});

/**
 * Listing and searching flows from their stored copies in MongoDB (indexed), not from Temporal
 * visibility: it works with Temporal down and past Temporal's retention. Newest first.
 */
export const flowListRoutes: FastifyPluginAsyncZod<FlowListRoutesOptions> = async (app, { flows, authenticate }) => {
  app.addHook('onRequest', authenticate);
  app.get(
    '/v1/flows',
    {
      schema: {
        operationId: 'listFlows',
        summary: 'List flows, newest first, by merchant reference, type, state and start time',
        querystring: listQuery,
        response: { 200: flowList, ...errorResponses },
      },
    },
    async (request) => {
      const { merchant_reference, type, state, since, limit, cursor } = request.query;
      const after = cursor ? decodeCursor(cursor) : undefined;
      // One more than asked tells whether there is a next page.
      const docs = await flows.list({ merchant_reference, flow_type: type, state, since: since ? new Date(since) : undefined }, limit + 1, after);
      const page = docs.slice(0, limit);
      const last = page.at(-1);
      return {
        flows: page.map(({ status }) => ({
          flow_id: status.flow_id,
          flow_type: status.flow_type,
          state: status.state,
          merchant_reference: status.merchant_reference,
          ...(status.failure ? { failure: status.failure } : {}),
          started_at: status.started_at,
          updated_at: status.updated_at,
        })),
        ...(docs.length > limit && last ? { next_cursor: encodeCursor(last) } : {}),
      };
    },
  );
};
