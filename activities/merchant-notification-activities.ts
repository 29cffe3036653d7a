import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type { MerchantEvent } from '../contracts/merchant-events.js';
import { signMerchantEvent, SIGNATURE_HEADER } from '../klarna/merchant-signature.js';
import type { MerchantEventsRepository } from '../persistence/merchant-events-repository.js';

export interface MerchantNotificationDeps {
  merchantEvents: MerchantEventsRepository;
  /** Where events go and the secrets they are signed with (first = current). None: events are only logged. */
  merchantWebhooks: { urls: readonly string[]; secrets: readonly string[]; timeoutMs?: number };
  fetch?: typeof fetch;
}

export function createMerchantNotificationActivities(deps: MerchantNotificationDeps) {
  const send = deps.fetch ?? fetch;
  return {
    /** Stores the event with one pending delivery per configured endpoint; returns the endpoint count. */
    async recordMerchantEvent(event: MerchantEvent): Promise<number> {
      await deps.merchantEvents.storeOnce(event, deps.merchantWebhooks.urls);
      return deps.merchantWebhooks.urls.length;
    },

    /**
     * POSTs the signed event to endpoint `index`. A 2xx is delivered; anything else (or no answer)
     * fails the attempt, which Temporal retries with back-off (the workflow's delivery policy).
     * Each attempt is logged. `final` marks the last try before giving up.
     */
    async deliverMerchantEvent(input: { event: MerchantEvent; index: number }): Promise<void> {
      const url = deps.merchantWebhooks.urls[input.index];
      if (!url) throw ApplicationFailure.create({ type: 'endpoint_removed', message: `no endpoint ${input.index} configured any more`, nonRetryable: true });
      const body = JSON.stringify(input.event);
      const at = new Date();
      let status: number | undefined;
      let error: string | undefined;
      try {
        const response = await send(url, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            'klarna-token-sagas-event-id': input.event.id,
            [SIGNATURE_HEADER]: signMerchantEvent(body, deps.merchantWebhooks.secrets, Math.floor(at.getTime() / 1000)),
          },
          body,
          signal: AbortSignal.timeout(deps.merchantWebhooks.timeoutMs ?? 10_000),
        });
        status = response.status;
        await response.arrayBuffer().catch(() => undefined);
      } catch (err) {
        error = err instanceof Error ? err.name : 'error';
      }
      const delivered = status !== undefined && status >= 200 && status < 300;
      await deps.merchantEvents.recordAttempt(input.event.id, input.index, { at: at.toISOString(), ...(status ? { status } : {}), ...(error ? { error } : {}) }, delivered ? 'delivered' : 'pending');
      if (!delivered) {
        Context.current().log.info('merchant event not delivered; retrying', { eventId: input.event.id, status, error });
        throw ApplicationFailure.create({ type: 'merchant_endpoint_failed', message: `endpoint answered ${status ?? error}` });
      }
    },

    /** Marks a delivery given up after the policy's deadline. */
    async giveUpMerchantEvent(input: { event_id: string; index: number }): Promise<void> {
      await deps.merchantEvents.recordAttempt(input.event_id, input.index, { at: new Date().toISOString(), error: 'gave_up' }, 'gave_up');
    },
  };
}
