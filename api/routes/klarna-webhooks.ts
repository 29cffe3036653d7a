import { WorkflowNotFoundError } from '@temporalio/client';
import { errorCodes, type FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { isV2FlowId } from '../../contracts/v2.js';
import { v2WebhookEnvelope } from '../../klarna/v2-schemas.js';
import { checkWebhookSignature, type WebhookSigningKey } from '../../klarna/webhook-signature.js';
import type { KlarnaEventDocument, KlarnaEventsRepository } from '../../persistence/klarna-events-repository.js';
import type { TokenVault } from '../../persistence/token-vault.js';
import { v2PaymentRequestEventSignal } from '../../workflows/definitions.js';
import { ApiError, errorResponses } from '../errors.js';
import type { FlowGateway } from '../flow-gateway.js';

export interface KlarnaWebhookRoutesOptions {
  gateway: FlowGateway;
  events: KlarnaEventsRepository;
  vault: TokenVault;
  /** KLARNA_WEBHOOK_SIGNING_KEYS: every key Klarna may sign with (several during a rotation). None: every webhook is refused. */
  signingKeys: readonly WebhookSigningKey[];
  /** How long the answer waits for the signal before saying `pending` (default 800 ms; Klarna's timeout is 10 s). */
  ackWaitMs?: number;
}

const acknowledged = z.object({
  event_id: z.string(),
  /** The event was stored before (Klarna's at-least-once delivery): acknowledged, not applied again. */
  duplicate: z.boolean(),
  /** delivered: its flow has it; pending: stored, its flow collects it while it waits; no_flow: no flow takes it (ended, or not a payment request event). */
  delivery: z.enum(['pending', 'delivered', 'no_flow']),
});

type RawRequest = FastifyRequest & { rawBody?: string };
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms).unref());
const header = (request: FastifyRequest, name: string) => {
  const value = request.headers[name];
  return typeof value === 'string' ? value : undefined;
};

/**
 * Klarna-facing: v2 webhooks (`payment.request.state-change.*`, facts §4, seed 003). The signature
 * is checked on the exact body bytes before anything else (forged or unsigned → 401, nothing
 * stored); an accepted event is stored in the inbox (unique on Klarna's event_id; tokens sealed)
 * before it is acknowledged; a duplicate is acknowledged and ignored. The flow is the one the
 * payment request's reference names (our flows set it to their id); it is signalled in the
 * background. When the signal cannot be given, or the flow is not known yet, the event stays
 * `pending` and the flow collects it by payment request id while it waits; the flow applies events
 * in Klarna's state order. MongoDB down → 503 at once, so Klarna retries.
 */
export const klarnaWebhookRoutes: FastifyPluginAsyncZod<KlarnaWebhookRoutesOptions> = async (app, options) => {
  const { gateway, events, vault, signingKeys } = options;
  const ackWaitMs = options.ackWaitMs ?? 800;

  // The HMAC is over the exact bytes Klarna sent: keep them (this plugin only).
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    const raw = typeof body === 'string' ? body : body.toString('utf8');
    (request as RawRequest).rawBody = raw;
    if (raw.length === 0) return done(new errorCodes.FST_ERR_CTP_EMPTY_JSON_BODY(), undefined);
    try {
      done(null, JSON.parse(raw));
    } catch {
      done(new errorCodes.FST_ERR_CTP_INVALID_JSON_BODY(), undefined);
    }
  });

  app.post(
    '/klarna/webhooks/v2',
    {
      schema: {
        operationId: 'klarnaV2Webhook',
        summary: "Klarna's v2 webhooks (payment.request.state-change.*), signed with Klarna-Signature",
        description:
          'Register this URL with Klarna for the `payment.request.state-change.*` events, with a signing key configured in `KLARNA_WEBHOOK_SIGNING_KEYS`. `Klarna-Signature` must be the HMAC-SHA256 (hex) of the raw body under the key `Klarna-Signing-Key-Id` names; otherwise 401 and nothing is stored. An accepted event is stored before the 200; a redelivery is acknowledged as a duplicate.',
        security: [{ klarnaSignature: [] }],
        headers: z.object({
          'klarna-signature': z.string().max(512).optional(),
          'klarna-signing-key-id': z.string().max(256).optional(),
        }),
        body: v2WebhookEnvelope,
        response: { 200: acknowledged, ...errorResponses },
      },
      // Before validation: an unsigned or forged body is refused whatever it contains.
      preValidation: async (request) => {
        const raw = (request as RawRequest).rawBody ?? '';
        const keyId = header(request, 'klarna-signing-key-id');
        const check = checkWebhookSignature(raw, { keyId, signature: header(request, 'klarna-signature') }, signingKeys);
        if (check !== 'valid') {
          request.log.warn({ reason: check, keyId: keyId?.slice(0, 64) }, 'v2 webhook refused: signature');
          throw new ApiError(401, 'unauthorized', 'Missing or wrong Klarna-Signature.');
        }
      },
    },
    async (request) => {
      const { metadata, payload } = request.body;
      const eventId = `v2wh_${metadata.event_id}`.slice(0, 220);
      const paymentRequestId = payload.payment_request_id;
      const isPaymentRequestEvent = metadata.event_type.startsWith('payment.request.state-change.') && paymentRequestId !== undefined && payload.state !== undefined;
      const reference = payload.payment_request_reference;
      const flowId = reference && isV2FlowId(reference) ? reference : undefined;
      const context = payload.state_context;
      const fresh = await events.storeOnce({
        _id: eventId,
        source: 'v2_webhook',
        flow_id: flowId ?? '',
        ...(paymentRequestId ? { payment_request_id: paymentRequestId } : {}),
        payload: {
          event_type: metadata.event_type,
          ...(payload.state ? { state: payload.state } : {}),
          ...(payload.previous_state ? { previous_state: payload.previous_state } : {}),
          ...(metadata.occurred_at ? { occurred_at: metadata.occurred_at } : {}),
          ...(reference ? { payment_request_reference: reference } : {}),
          // Credentials, sealed before they are stored.
          ...(context?.klarna_network_session_token ? { network_session_token: vault.seal(context.klarna_network_session_token) } : {}),
          ...(context?.klarna_customer?.customer_token ? { customer_token: vault.seal(context.klarna_customer.customer_token) } : {}),
          ...(context?.klarna_customer?.customer_token_reference ? { customer_token_reference: context.klarna_customer.customer_token_reference } : {}),
        },
        received_at: new Date(),
        // Pending until a flow has it, even when no flow is known yet: the flow collects it by payment request.
        delivery: isPaymentRequestEvent ? 'pending' : 'no_flow',
      });
      if (!fresh) {
        const previous = await events.find(eventId);
        if (previous && previous.delivery !== 'pending') {
          request.log.info({ eventId, eventType: metadata.event_type, delivery: previous.delivery }, 'v2 webhook duplicate acknowledged');
          return { event_id: eventId, duplicate: true, delivery: previous.delivery };
        }
      }
      if (!isPaymentRequestEvent || !flowId) {
        request.log.info({ eventId, eventType: metadata.event_type, paymentRequestId, flowKnown: false }, 'v2 webhook stored');
        return { event_id: eventId, duplicate: !fresh, delivery: isPaymentRequestEvent ? ('pending' as const) : ('no_flow' as const) };
      }

      // Signal and mark in the background: the event is stored, so the answer never waits long for Temporal.
      const signalled = (async (): Promise<KlarnaEventDocument['delivery']> => {
        let outcome: KlarnaEventDocument['delivery'] = 'pending';
        try {
          await gateway.within(gateway.deadlines.signalMs, () =>
            gateway.client.workflow.getHandle(flowId).signal(v2PaymentRequestEventSignal, {
              event_id: eventId,
              payment_request_id: paymentRequestId!,
              state: payload.state!,
              ...(metadata.occurred_at ? { occurred_at: metadata.occurred_at } : {}),
            }),
          );
          outcome = 'delivered';
        } catch (err) {
          // The flow has ended (a late event, e.g. after its fallback read finished it): kept, not applied.
          if (err instanceof WorkflowNotFoundError) outcome = 'no_flow';
        }
        if (outcome !== 'pending') await events.markDelivery([eventId], outcome, new Date()).catch(() => undefined);
        return outcome;
      })();
      const delivery = await Promise.race([signalled, sleep(ackWaitMs).then(() => 'pending' as const)]);
      request.log.info({ eventId, eventType: metadata.event_type, flowId, paymentRequestId, delivery, duplicate: !fresh }, 'v2 webhook received');
      return { event_id: eventId, duplicate: !fresh, delivery };
    },
  );
};
