import type { onRequestHookHandler } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { flowType, tokenizeState, tokenizeStatus } from '../../contracts/flow-status.js';
import type { FlowsRepository } from '../../persistence/flows-repository.js';
import { ApiError, errorResponses } from '../errors.js';

export interface FlowListRoutesOptions {
  flows: FlowsRepository;
  authenticate: onRequestHookHandler;
}

/** An opaque cursor: the last flow of a page (created_at, id), base64url JSON. */
const encodeCursor = (doc: { created_at: Date; _id: string }) =>
  Buffer.from(JSON.stringify([doc.created_at.toISOString(), doc._id])).toString('base64url');
function decodeCursor(cursor: string): { created_at: Date; _id: string } {
  try {
    const [at, id] = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as [string, string];
    const created = new Date(at);
    if (typeof id !== 'string' || Number.isNaN(created.getTime())) throw new Error('bad cursor');
    return { created_at: created, _id: id };
  } catch {
    throw new ApiError(400, 'invalid_request', 'cursor is not one this API gave out.', [{ field: 'querystring.cursor', message: 'is invalid' }]);
  }
}

const listQuery = z.object({
  merchant_reference: z.string().trim().min(1).max(255).optional(),
  type: flowType.optional(),
  state: tokenizeState.optional(),
  /** Flows started at or after this instant (ISO 8601). */
  since: z.iso.datetime({ offset: true }).optional(),
  limit: z.coerce.number().int().min(1).max(100).default(20),
  cursor: z.string().min(1).max(500).optional(),
});

const flowList = z.object({
  flows: z.array(tokenizeStatus),
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
        flows: page.map((doc) => tokenizeStatus.parse(doc.status)),
        ...(docs.length > limit && last ? { next_cursor: encodeCursor(last) } : {}),
      };
    },
  );
};
