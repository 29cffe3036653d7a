import { condition, log, proxyActivities, setHandler } from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import type { V2Completion, V2PaymentRequestSnapshot } from '../activities/v2-activities.js';
import type { V2PaymentRequestEvent, V2PaymentRequestView } from '../contracts/v2.js';
import { klarnaCall, ownStorage } from './activity-presets.js';
import { v2PaymentRequestEventSignal } from './definitions.js';
import { describeFailure } from './describe-failure.js';

// How a v2 flow follows a Klarna payment request to its end (seeds 002, 003): Klarna's signed
// webhooks (signalled by the API after it stored them), the inbox (events stored while the
// signal could not be given, or before the flow was known), and reading the payment request
// itself when nothing comes. Bounded by the request's expiry.

/** After the configured first read (KLARNA_WEBHOOK_FALLBACK_READ_AFTER), reads double up to every 5 minutes. */
export const FALLBACK_READ_MAX_MS = 5 * 60_000;
/** How long past `expires_at` the flow waits for Klarna to say EXPIRED (or anything final) before it decides itself. */
export const EXPIRY_GRACE_MS = 5 * 60_000;
/** Klarna's default expiry (facts §4), when an answer carries none. */
const DEFAULT_EXPIRY_MS = 3 * 3_600_000;

const { readV2PaymentRequest } = proxyActivities<Activities>({ ...klarnaCall, scheduleToCloseTimeout: '2m' });
// Our own MongoDB only: retried until it answers (an outage delays the flow, never fails it).
const { collectV2PaymentRequestEvents, markEventsDelivered, v2WebhookCompletion } = proxyActivities<Activities>(ownStorage);

export type PaymentRequestEnd =
  | { state: 'COMPLETED'; completion: V2Completion }
  | { state: 'EXPIRED' | 'CANCELED' | 'DECLINED'; reason?: string };

const finalStates = ['COMPLETED', 'EXPIRED', 'CANCELED', 'DECLINED'];
const isFinal = (state: string) => finalStates.includes(state);
/** Klarna's state order: SUBMITTED ↔ IN_PROGRESS, then one final state. */
const rank = (state: string) => (state === 'SUBMITTED' ? 0 : state === 'IN_PROGRESS' ? 1 : 2);

/**
 * Sets the flow's webhook signal handler (events are kept from the flow's first moment, so one
 * that comes before the flow waits is not lost) and returns `follow`, which waits for one payment
 * request's final state. `onIgnored` counts events that came twice, for another payment request,
 * after the end, or older than what the flow already applied.
 */
export function paymentRequestFollower(flowId: string, onIgnored: () => void) {
  const queue: V2PaymentRequestEvent[] = [];
  const seen = new Set<string>();
  setHandler(v2PaymentRequestEventSignal, (event) => {
    if (seen.has(event.event_id)) return onIgnored();
    seen.add(event.event_id);
    queue.push(event);
  });

  async function follow(pr: V2PaymentRequestView, options: { fallbackReadAfterMs: number; onChange: () => Promise<void> }): Promise<PaymentRequestEnd> {
    const expiresAtMs = pr.expires_at ? Date.parse(pr.expires_at) : Date.now() + DEFAULT_EXPIRY_MS;
    const giveUpAtMs = expiresAtMs + EXPIRY_GRACE_MS;
    let lastOccurredAt = '';
    let pollMs = options.fallbackReadAfterMs;

    /** Stored events the flow has not had: the signal was lost, or the webhook came before the flow knew its payment request. */
    const collect = async () => {
      const found = await collectV2PaymentRequestEvents({ flow_id: flowId, payment_request_id: pr.payment_request_id });
      for (const event of found) {
        if (seen.has(event.event_id)) continue;
        seen.add(event.event_id);
        queue.push(event);
      }
      if (found.length) await markEventsDelivered({ event_ids: found.map((e) => e.event_id) });
    };

    const read = async (): Promise<V2PaymentRequestSnapshot | undefined> => {
      try {
        return await readV2PaymentRequest({ flow_id: flowId, payment_request_id: pr.payment_request_id });
      } catch (err) {
        log.warn('payment request read failed; trying again later', { flowId, kind: describeFailure(err).kind });
        return undefined;
      }
    };

    const ended = (state: string, by: 'webhook' | 'read', completion?: V2Completion): PaymentRequestEnd => {
      pr.state = state;
      pr.completed_by = by;
      if (state === 'COMPLETED') return { state, completion: completion ?? { source: by, completed_at: new Date(Date.now()).toISOString() } };
      return { state: state as 'EXPIRED' | 'CANCELED' | 'DECLINED' };
    };

    /** Applies queued events in Klarna's state order (time, then state), not in arrival order. */
    const applyQueued = async (): Promise<PaymentRequestEnd | undefined> => {
      const batch = queue.splice(0).sort((a, b) => (a.occurred_at ?? '').localeCompare(b.occurred_at ?? '') || rank(a.state) - rank(b.state));
      let final: V2PaymentRequestEvent | undefined;
      let changed = false;
      for (const event of batch) {
        const stale = event.occurred_at !== undefined && event.occurred_at < lastOccurredAt;
        if (event.payment_request_id !== pr.payment_request_id || final || stale || !event.state) {
          onIgnored();
          continue;
        }
        if (event.occurred_at) lastOccurredAt = event.occurred_at;
        if (isFinal(event.state)) final = event;
        else if (pr.state !== event.state) {
          pr.state = event.state;
          changed = true;
        }
      }
      if (!final) {
        if (changed) await options.onChange();
        return undefined;
      }
      if (final.state !== 'COMPLETED') return ended(final.state, 'webhook');
      // The signed webhook carried the tokens (sealed in the inbox); without them, Klarna is asked.
      const completion = await v2WebhookCompletion({ flow_id: flowId, event_id: final.event_id });
      if (completion) return ended('COMPLETED', 'webhook', completion);
      const snapshot = await read();
      return ended('COMPLETED', 'webhook', snapshot?.completion);
    };

    await collect(); // events that came before the flow waited
    for (;;) {
      const end = await applyQueued();
      if (end) return end;
      const now = Date.now();
      if (now >= giveUpAtMs) {
        const last = await read();
        if (last && isFinal(last.state)) return ended(last.state, 'read', last.completion);
        return { state: 'EXPIRED', reason: 'no final state from Klarna after the payment request expired' };
      }
      // Wake at the expiry too, so an expired request ends promptly.
      const untilExpiry = expiresAtMs - now;
      const timeout = Math.min(pollMs, giveUpAtMs - now, untilExpiry > 0 ? untilExpiry + 1_000 : Number.POSITIVE_INFINITY);
      if (await condition(() => queue.length > 0, timeout)) continue;
      await collect();
      if (queue.length > 0) continue;
      const snapshot = await read();
      if (snapshot && isFinal(snapshot.state)) return ended(snapshot.state, 'read', snapshot.completion);
      if (snapshot && snapshot.state !== pr.state) {
        pr.state = snapshot.state;
        await options.onChange();
      }
      pollMs = Math.min(pollMs * 2, FALLBACK_READ_MAX_MS);
    }
  }

  return { follow };
}
