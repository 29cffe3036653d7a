import type { onRequestHookHandler } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { merchantEventRecord, merchantEventType } from '../../contracts/merchant-events.js';
import type { MerchantEventsRepository } from '../../persistence/merchant-events-repository.js';
import { errorResponses } from '../errors.js';

export interface MerchantEventRoutesOptions {
  merchantEvents: MerchantEventsRepository;
  authenticate: onRequestHookHandler;
}

/** The outbound notifications and their delivery log (every attempt, its status or error). */
export const merchantEventRoutes: FastifyPluginAsyncZod<MerchantEventRoutesOptions> = async (app, { merchantEvents, authenticate }) => {
  app.addHook('onRequest', authenticate);
  app.get(
    '/v1/merchant-events',
    {
      schema: {
        summary: 'Notifications sent to the merchant (newest first) with their delivery log',
        querystring: z.object({
          subscription_id: z.string().regex(/^sub-[A-Za-z0-9._:-]{1,128}$/, 'must be a subscription id').optional(),
          type: merchantEventType.optional(),
          limit: z.coerce.number().int().min(1).max(100).default(20),
        }),
        response: { 200: z.object({ events: z.array(merchantEventRecord) }), ...errorResponses },
      },
    },
    async (request) => {
      const { subscription_id, type, limit } = request.query;
      const docs = await merchantEvents.list({ subscription_id, type }, limit);
      return { events: docs.map(({ _id, ...rest }) => ({ id: _id, ...rest })) };
    },
  );
};
