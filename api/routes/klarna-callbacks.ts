import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { buyAndTokenizeFlowIdPrefix } from '../../contracts/buy-and-tokenize.js';
import { chargeFlowIdPrefix } from '../../contracts/charge.js';
import { stepUpFlowIdPrefix } from '../../contracts/step-up.js';
import { authorizationCallbackBody, maxIdempotencyKeyLength, tokenizeFlowIdPrefix } from '../../contracts/tokenize.js';
import { isCallbackSecretValid } from '../../klarna/callback-auth.js';
import type { AuthorizationInbox } from '../authorization-inbox.js';
import { ApiError, errorResponses } from '../errors.js';

export interface KlarnaCallbackRoutesOptions {
  inbox: AuthorizationInbox;
  /** The configured callback secret (and, during a rotation, the previous one); each flow's URL carries its own secret derived from it. */
  secret: string | readonly string[];
}

/** Every flow that waits for a shopper's authorization: tokenize, buy-and-tokenize and step-up recovery (SDK path). */
const authorizingFlowId = z
  .string()
  .regex(
    new RegExp(`^(${tokenizeFlowIdPrefix}|${buyAndTokenizeFlowIdPrefix}|${stepUpFlowIdPrefix}${chargeFlowIdPrefix})[A-Za-z0-9._:-]{1,${maxIdempotencyKeyLength}}$`),
    'must be a tokenize or buy-and-tokenize flow id',
  );

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
        operationId: 'klarnaAuthorizationCallback',
        summary: "Klarna's authorization callback (merchant_urls.authorization)",
        params: z.object({ flow_id: authorizingFlowId }),
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
