import { createHash } from 'node:crypto';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { authorizationCallbackBody } from '../../contracts/tokenize.js';
import type { KlarnaEventsRepository } from '../../persistence/klarna-events-repository.js';
import type { TokenVault } from '../../persistence/token-vault.js';
import { ApiError, errorResponses } from '../errors.js';
import type { TokenizeFlows } from '../tokenize-flows.js';

export interface KlarnaCallbackRoutesOptions {
  flows: TokenizeFlows;
  events: KlarnaEventsRepository;
  vault: TokenVault;
  secret: string;
}

const acknowledged = z.object({ event_id: z.string(), duplicate: z.boolean(), delivery: z.enum(['pending', 'signalled', 'no_flow']) });

/**
 * Klarna-facing: the authorization callback. Stored first (unique per session + token), then
 * signalled; a redelivery is acknowledged and re-signalled only if the first delivery never
 * reached the flow; an event for an unknown flow is kept (`no_flow`) and acknowledged.
 */
export const klarnaCallbackRoutes: FastifyPluginAsyncZod<KlarnaCallbackRoutesOptions> = async (app, { flows, events, vault, secret }) => {
  app.post(
    '/klarna/callbacks/authorization/:flow_id',
    {
      schema: {
        summary: "Klarna's authorization callback (merchant_urls.authorization)",
        params: z.object({ flow_id: z.string().min(1).max(200) }),
        querystring: z.object({ secret: z.string().optional() }),
        body: authorizationCallbackBody,
        response: { 200: acknowledged, ...errorResponses },
      },
    },
    async (request) => {
      // Klarna does not sign this callback: the shared secret in the URL is the authentication.
      if (!vault.equalSecrets(request.query.secret ?? '', secret)) {
        throw new ApiError(401, 'unauthorized', 'Wrong or missing callback secret.');
      }
      const { flow_id: flowId } = request.params;
      const { authorization_token, session_id } = request.body;
      const eventId = `authcb_${createHash('sha256').update(`${session_id}:${authorization_token}`).digest('hex').slice(0, 40)}`;
      const receivedAt = new Date();
      const stored = await events.storeOnce({
        _id: eventId,
        source: 'authorization_callback',
        flow_id: flowId,
        session_id,
        payload: { session_id, authorization_token: vault.seal(authorization_token) },
        received_at: receivedAt,
        delivery: 'pending',
      });
      const previous = stored ? undefined : await events.find(eventId);
      if (previous && previous.delivery !== 'pending') {
        request.log.info({ flowId, eventId, delivery: previous.delivery }, 'duplicate authorization callback ignored');
        return { event_id: eventId, duplicate: true, delivery: previous.delivery };
      }
      let delivery: 'signalled' | 'no_flow' = 'signalled';
      try {
        await flows.authorize(flowId, { authorization_token, session_id, source: 'klarna_callback' });
      } catch (err) {
        // An unknown or finished flow cannot take it; the event stays stored for inspection.
        if (!(err instanceof ApiError)) throw err;
        delivery = 'no_flow';
      }
      await events.markDelivery(eventId, delivery, new Date());
      request.log.info({ flowId, eventId, sessionId: session_id, delivery }, 'authorization callback received');
      return { event_id: eventId, duplicate: !stored, delivery };
    },
  );
};
