import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { authorizationCallbackBody, tokenizeFlowIdSchema } from '../../contracts/tokenize.js';
import { isCallbackSecretValid } from '../../klarna/callback-auth.js';
import type { AuthorizationInbox } from '../authorization-inbox.js';
import { ApiError, errorResponses } from '../errors.js';

export interface KlarnaCallbackRoutesOptions {
  inbox: AuthorizationInbox;
  /** The configured callback secret; each flow's URL carries its own secret derived from it. */
  secret: string;
}

const acknowledged = z.object({ event_id: z.string(), duplicate: z.boolean(), delivery: z.enum(['pending', 'delivered', 'no_flow']) });

/**
 * Klarna-facing: the authorization callback. Stored in the inbox before it is acknowledged (a
 * redelivery is recognised by its event id), then signalled to the flow; when Temporal cannot take
 * it the event stays pending and the flow collects it. MongoDB down → 503 at once, so Klarna
 * retries. An event for a flow that has ended is kept (`no_flow`) and acknowledged.
 */
export const klarnaCallbackRoutes: FastifyPluginAsyncZod<KlarnaCallbackRoutesOptions> = async (app, { inbox, secret }) => {
  app.post(
    '/klarna/callbacks/authorization/:flow_id',
    {
      schema: {
        summary: "Klarna's authorization callback (merchant_urls.authorization)",
        params: z.object({ flow_id: tokenizeFlowIdSchema }),
        querystring: z.object({ secret: z.string().max(200).optional() }),
        body: authorizationCallbackBody,
        response: { 200: acknowledged, ...errorResponses },
      },
    },
    async (request) => {
      const { flow_id: flowId } = request.params;
      // Klarna does not sign this callback: the flow's own secret in the URL is the authentication.
      if (!isCallbackSecretValid(secret, flowId, request.query.secret ?? '')) {
        throw new ApiError(401, 'unauthorized', 'Wrong or missing callback secret.');
      }
      const accepted = await inbox.accept(flowId, request.body, 'klarna_callback', 'keep');
      request.log.info({ flowId, eventId: accepted.event_id, sessionId: request.body.session_id, delivery: accepted.delivery, duplicate: accepted.duplicate }, 'authorization callback received');
      return accepted;
    },
  );
};
