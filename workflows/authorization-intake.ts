import { condition, log, proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import type { FlowStatusBase } from '../contracts/flow-status.js';
import type { ShopperAuthorization } from '../contracts/tokenize.js';
import { ownStorage } from './activity-presets.js';
import type { trackFlowStatus } from './flow-status-tracker.js';
import { inboxCheckSchedule } from './tokenize-workflow.js';

const { collectPendingAuthorizations, markEventsDelivered } = proxyActivities<Activities>(ownStorage);

/** An authorization the flow has taken and not yet tried, with when it arrived (its 60 minutes start then). */
export type Candidate = ShopperAuthorization & { received_at_ms: number };

type WaitingStatus = FlowStatusBase & { session_id?: string; ignored_authorizations: number };

/**
 * How a flow waiting for the shopper takes authorizations, as tokenize does (its workflow keeps its
 * own inline copy, frozen by its saved histories): from the `shopperAuthorized` signal and from the
 * inbox, which it reads while it waits (rarely: `inboxCheckSchedule`), each inbox event and
 * each token once, only for its own session and only before its outcome; the rest are counted in
 * `ignored_authorizations`. Oldest first.
 */
export function authorizationIntake<S extends WaitingStatus>(flow: ReturnType<typeof trackFlowStatus<S>>) {
  const { status } = flow;
  const candidates: Candidate[] = [];
  const seen = new Set<string>();
  const inboxCheck = inboxCheckSchedule();
  let inboxCheckMs = inboxCheck.firstMs;
  const inboxCheckMax = inboxCheck.maxMs;

  const take = (auth: ShopperAuthorization): boolean => {
    const wrongSession = auth.session_id !== undefined && status.session_id !== undefined && auth.session_id !== status.session_id;
    const duplicate = seen.has(auth.authorization_token) || (auth.event_id !== undefined && seen.has(auth.event_id));
    if (!flow.open || wrongSession || duplicate) {
      status.ignored_authorizations += 1;
      log.info('authorization ignored', {
        flowId: status.flow_id,
        source: auth.source,
        reason: wrongSession ? 'other session' : duplicate ? 'duplicate' : (flow.outcome ?? status.state),
      });
      return false;
    }
    seen.add(auth.authorization_token);
    if (auth.event_id) seen.add(auth.event_id);
    candidates.push({ ...auth, received_at_ms: Date.now() });
    return true;
  };

  return {
    /** Takes one authorization (signal handler, inbox); false when it is ignored. */
    take,
    /** Authorizations taken and not yet tried. */
    get waiting(): number {
      return candidates.length;
    },
    /** Removes and returns the authorization tokens taken and never tried (to release them). */
    drain: (): string[] => candidates.splice(0).map((c) => c.authorization_token),
    /**
     * The next authorization to try, waiting for one (and reading the inbox) until `abandonAtMs`:
     * `abandoned` then, `interrupted` as soon as `interrupted()` holds (a cancel).
     */
    async next(abandonAtMs: number, interrupted: () => boolean): Promise<Candidate | 'abandoned' | 'interrupted'> {
      while (candidates.length === 0 && !interrupted()) {
        const remaining = abandonAtMs - Date.now();
        if (remaining <= 0) return 'abandoned';
        if (await condition(() => candidates.length > 0 || interrupted(), Math.min(inboxCheckMs, remaining))) break;
        if (Date.now() >= abandonAtMs) return 'abandoned';
        // An event stored while Temporal could not take the signal (an outage, a lost reply).
        const pending = await collectPendingAuthorizations({ flow_id: status.flow_id });
        const taken = pending.filter((auth) => take(auth));
        if (pending.length > 0) await markEventsDelivered({ event_ids: pending.map((auth) => auth.event_id!) });
        if (taken.length === 0) inboxCheckMs = Math.min(inboxCheckMs * 2, inboxCheckMax);
      }
      if (interrupted()) return 'interrupted';
      return candidates.shift()!;
    },
  };
}
