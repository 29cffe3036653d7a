import { createHash } from 'node:crypto';
import { WorkflowNotFoundError } from '@temporalio/client';
import { isTerminalBuyAndTokenizeState, type BuyAndTokenizeState } from '../contracts/buy-and-tokenize.js';
import { isTerminalTokenizeState, type FlowStatusBase, type TokenizeState } from '../contracts/flow-status.js';
import { isTerminalStepUpState, type StepUpState } from '../contracts/step-up.js';
import type { ShopperAuthorization } from '../contracts/tokenize.js';
import type { KlarnaEventDocument, KlarnaEventsRepository } from '../persistence/klarna-events-repository.js';
import type { Sealed, TokenVault } from '../persistence/token-vault.js';
import { shopperAuthorizedSignal } from '../workflows/definitions.js';
import { ApiError } from './errors.js';
import type { FlowGateway } from './flow-gateway.js';

export interface AcceptedAuthorization {
  event_id: string;
  /** The same authorization was stored before (a redelivery or the other channel). */
  duplicate: boolean;
  /** delivered: the flow has it; pending: stored, the flow picks it up from the inbox; no_flow: the flow has ended. */
  delivery: KlarnaEventDocument['delivery'];
}

/** One event per flow and authorization token, whichever channel brings it first. */
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms).unref());

/** Whether a stored flow has ended, by its flow type (the flows that take authorizations). */
const hasEnded = (status: FlowStatusBase) =>
  status.flow_type === 'step_up'
    ? isTerminalStepUpState(status.state as StepUpState)
    : status.flow_type === 'buy_and_tokenize'
      ? isTerminalBuyAndTokenizeState(status.state as BuyAndTokenizeState)
      : isTerminalTokenizeState(status.state as TokenizeState);

export const authorizationEventId = (flowId: string, authorizationToken: string) =>
  `auth_${createHash('sha256').update(`${flowId}:${authorizationToken}`).digest('hex').slice(0, 40)}`;

/**
 * Every shopper authorization, from the checkout or from Klarna's callback, goes through here:
 * stored in the inbox (token sealed) before it is acknowledged, then signalled to the flow within
 * a deadline. When Temporal cannot take the signal the event stays `pending`: this process signals
 * it again with back-off, and the waiting flow also collects it from the inbox itself; when MongoDB is down the store fails at once and the caller
 * gets a 503 to retry (Klarna retries callbacks).
 */
export function authorizationInbox(options: {
  gateway: FlowGateway;
  events: KlarnaEventsRepository;
  vault: TokenVault;
  /** How long an answer waits for the signal before saying `pending` (default 800 ms). */
  ackWaitMs?: number;
  /** How long this process keeps signalling an event Temporal did not take (default 10 minutes). */
  redeliverForMs?: number;
}) {
  const { gateway, events, vault } = options;
  const ackWaitMs = options.ackWaitMs ?? 800;
  const redeliverForMs = options.redeliverForMs ?? 10 * 60_000;

  /** One signal to the flow: delivered, no_flow (it has ended or never was) or pending (Temporal slow or down). */
  const signalEvent = async (flowId: string, authorization: ShopperAuthorization): Promise<KlarnaEventDocument['delivery']> => {
    try {
      await gateway.within(gateway.deadlines.signalMs, () => gateway.client.workflow.getHandle(flowId).signal(shopperAuthorizedSignal, authorization));
      return 'delivered';
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) return 'no_flow';
      return 'pending';
    }
  };

  return {
    async accept(
      flowId: string,
      authorization: { authorization_token: string; session_id?: string },
      source: ShopperAuthorization['source'],
      whenEnded: 'refuse' | 'keep',
    ): Promise<AcceptedAuthorization> {
      const eventId = authorizationEventId(flowId, authorization.authorization_token);
      const stored = await gateway.stored(flowId);
      if (stored && hasEnded(stored)) {
        if (whenEnded === 'refuse') throw new ApiError(409, 'flow_closed', `Flow ${flowId} has ended (${stored.state}); it takes no authorization.`);
      } else if (!stored && (await gateway.exists(flowId)) === false) {
        if (whenEnded === 'refuse') throw new ApiError(404, 'not_found', `No flow ${flowId}.`);
      }

      const fresh = await events.storeOnce({
        _id: eventId,
        source: source === 'klarna_callback' ? 'authorization_callback' : 'checkout_authorization',
        flow_id: flowId,
        ...(authorization.session_id ? { session_id: authorization.session_id } : {}),
        payload: { authorization_token: vault.seal(authorization.authorization_token) },
        received_at: new Date(),
        delivery: 'pending',
      });
      if (!fresh) {
        const previous = await events.find(eventId);
        if (previous && previous.delivery !== 'pending') return { event_id: eventId, duplicate: true, delivery: previous.delivery };
      }

      // Signal, and mark the outcome, in the background: the caller's answer never waits longer
      // than `ackWaitMs` for Temporal (Klarna gives a callback 2 s). The event is already stored,
      // so an unfinished signal only means it is signalled again (below, and by the sweep).
      const signalOnce = () => signalEvent(flowId, { ...authorization, source, event_id: eventId });
      const signalled = signalOnce().then(async (outcome) => {
        if (outcome !== 'pending') await events.markDelivery([eventId], outcome, new Date()).catch(() => undefined);
        return outcome;
      });
      // After an outage the flow would find the event at its next inbox read (up to 5 minutes
      // later): this process keeps signalling meanwhile, with back-off, for `redeliverForMs`. A
      // restart ends these tries; the inbox read remains the safety net.
      void signalled.then(async (first) => {
        if (first !== 'pending') return;
        const giveUpAt = Date.now() + redeliverForMs;
        for (let delay = 1_000; Date.now() + delay < giveUpAt; delay = Math.min(delay * 2, 30_000)) {
          await sleep(delay);
          const again = await events.find(eventId).catch(() => undefined);
          // Taken meanwhile (the flow read the inbox, or another try got through).
          if (again && again.delivery !== 'pending') return;
          const outcome = await signalOnce();
          if (outcome !== 'pending') {
            await events.markDelivery([eventId], outcome, new Date()).catch(() => undefined);
            return;
          }
        }
      });
      const delivery = await Promise.race([signalled, sleep(ackWaitMs).then(() => 'pending' as const)]);
      if (delivery === 'no_flow' && whenEnded === 'refuse') {
        throw new ApiError(409, 'flow_closed', `Flow ${flowId} has ended; it takes no authorization.`);
      }
      return { event_id: eventId, duplicate: !fresh, delivery };
    },

    /**
     * Signals again every authorization still pending `olderThanMs` after it was stored (oldest
     * first, `limit` at a time) and marks what came of it. The backstop when the process that
     * stored an event could not finish signalling it (it restarted, or Temporal was down for longer
     * than its tries): any API instance sweeping finds it. Signals are idempotent per event id
     * (the flow takes an authorization once), so instances sweeping at once do no harm.
     */
    async sweep(olderThanMs = 30_000, limit = 100): Promise<Record<KlarnaEventDocument['delivery'], number>> {
      const counts = { delivered: 0, no_flow: 0, pending: 0 };
      for (const event of await events.pendingAuthorizations(new Date(Date.now() - olderThanMs), limit)) {
        const outcome = await signalEvent(event.flow_id, {
          authorization_token: vault.open(event.payload.authorization_token as Sealed),
          ...(event.session_id ? { session_id: event.session_id } : {}),
          source: event.source === 'authorization_callback' ? 'klarna_callback' : 'checkout',
          event_id: event._id,
        });
        counts[outcome]++;
        if (outcome !== 'pending') await events.markDelivery([event._id], outcome, new Date());
      }
      return counts;
    },
  };
}

/**
 * Sweeps the inbox every `intervalMs` (jittered ±20 %, so instances spread out) until the returned
 * stop is called; a failed sweep (MongoDB down) is tried again at the next turn.
 */
export function sweepInboxPeriodically(inbox: Pick<AuthorizationInbox, 'sweep'>, intervalMs: number, onError: (err: unknown) => void): () => void {
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  const next = () => {
    if (stopped) return;
    timer = setTimeout(() => {
      inbox.sweep().catch(onError).finally(next);
    }, intervalMs * (0.8 + Math.random() * 0.4));
    timer.unref();
  };
  next();
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}
export type AuthorizationInbox = ReturnType<typeof authorizationInbox>;
