import { randomUUID } from 'node:crypto';
import type { CallbackDelivery, DeliveryScenario, SimStore } from './state/store.js';

export interface CallbackLogger {
  warn(obj: object, msg: string): void;
}

export interface DeliverySettings {
  timeoutMs: number;
  /** Klarna's waits before each retry, in simulator-clock ms; attempts = length + 1. */
  retryDelaysMs: number[];
  /** Extra headers (v2 webhook signature). */
  headers?: Record<string, string>;
  /** The exact bytes to send, when they were signed. */
  raw?: string;
  /** Real-time wait before the first attempt (scenario: a late callback racing the checkout). */
  initialDelayMs?: number;
}

/** Klarna's documented delivery rules per kind (klarna-api-facts §1, §3, §4). */
export const deliveryRules = {
  // Authorization callback: 2 s timeout, up to 3 attempts, exponential backoff from 1 s.
  authorization: { timeoutMs: 2_000, retryDelaysMs: [1_000, 2_000] },
  // HPP status_update: 2xx within 3 s, else up to 3 retries (intervals undocumented: 1 s, 2 s, 4 s).
  hpp_status_update: { timeoutMs: 3_000, retryDelaysMs: [1_000, 2_000, 4_000] },
  // v2 webhooks: retries at +10 s, +2 min, +15 min, 3 h, 6 h, 12 h.
  webhook: { timeoutMs: 10_000, retryDelaysMs: [10_000, 120_000, 900_000, 3 * 3_600_000, 6 * 3_600_000, 12 * 3_600_000] },
} as const satisfies Record<CallbackDelivery['kind'], Pick<DeliverySettings, 'timeoutMs' | 'retryDelaysMs'>>;

const MAX_TIMER_MS = 2 ** 31 - 1;

interface Scheduled {
  delivery: CallbackDelivery;
  attempt: number;
  dueMs: number;
  timer: NodeJS.Timeout;
  settings: DeliverySettings;
  generation: number;
}

/**
 * Klarna's outgoing calls: the authorization callback, HPP status_update callbacks and v2
 * webhooks. Each is a JSON POST with a timeout; a non-2xx answer or a network error is retried
 * on Klarna's schedule for its kind. Retries are due on the simulator clock: they fire by
 * themselves after the wait (× `scale` in real time, so tests can shorten it), and at once when
 * `POST /_sim/clock/advance` passes their due time. Delivery scenarios (hold for reordering,
 * duplicates, delays) come from `store.deliveryScenarios`. Every attempt is recorded for
 * `GET /_sim/callbacks`. Runs in the background: the call that triggered it does not wait.
 */
export class CallbackDispatcher {
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly scheduled = new Map<string, Scheduled>();
  private readonly held: CallbackDelivery[] = [];
  private readonly inFlight = new Set<AbortController>();
  private closed = false;
  private readonly settingsOf = new WeakMap<CallbackDelivery, DeliverySettings>();

  constructor(
    private readonly store: SimStore,
    /** Real time per simulator-clock ms of retry wait (1 = Klarna's schedule). */
    private readonly scale: number,
    private readonly logger?: CallbackLogger,
  ) {}

  dispatch(kind: CallbackDelivery['kind'], url: string, body: unknown, overrides: Partial<DeliverySettings> = {}): CallbackDelivery {
    const settings: DeliverySettings = { ...deliveryRules[kind], retryDelaysMs: [...deliveryRules[kind].retryDelaysMs], ...overrides };
    const scenario = this.takeScenario(kind);
    const delivery = this.enqueue(kind, url, body, settings, scenario);
    for (let i = 0; i < (scenario?.duplicates ?? 0); i++) this.enqueue(kind, url, body, settings, scenario, delivery.id);
    return delivery;
  }

  /** Sends an earlier delivery again as a new delivery (a duplicate, as at-least-once delivery allows). */
  redeliver(delivery: CallbackDelivery): CallbackDelivery {
    const settings = this.settingsOf.get(delivery) ?? { ...deliveryRules[delivery.kind], retryDelaysMs: [...deliveryRules[delivery.kind].retryDelaysMs] };
    return this.enqueue(delivery.kind, delivery.url, delivery.body, { ...settings, initialDelayMs: 0 }, undefined, delivery.id);
  }

  /**
   * Sends held deliveries, one after the other (each first attempt finishes before the next
   * starts, so the receiver sees exactly this order). `ids` picks and orders them; else all held,
   * oldest first, or newest first with `reverse`.
   */
  async release(options: { ids?: string[]; reverse?: boolean } = {}): Promise<CallbackDelivery[]> {
    let chosen: CallbackDelivery[];
    if (options.ids) {
      chosen = options.ids.map((id) => this.held.find((d) => d.id === id)).filter((d): d is CallbackDelivery => d !== undefined);
    } else chosen = options.reverse ? [...this.held].reverse() : [...this.held];
    for (const d of chosen) this.held.splice(this.held.indexOf(d), 1);
    const generation = this.store.generation;
    for (const d of chosen) {
      d.state = 'pending';
      await this.attempt(d, 1, this.settingsOf.get(d)!, generation);
    }
    return chosen;
  }

  /** Retries whose due time the simulator clock has passed run now; resolves when they are done. */
  async runDue(): Promise<void> {
    const now = this.store.clock.nowMs();
    const due = [...this.scheduled.values()].filter((s) => s.dueMs <= now).sort((a, b) => a.dueMs - b.dueMs);
    await Promise.all(due.map((s) => this.fire(s)));
  }

  /** Forgets scheduled retries and held deliveries (POST /_sim/reset). */
  reset(): void {
    for (const s of this.scheduled.values()) clearTimeout(s.timer);
    this.scheduled.clear();
    this.held.length = 0;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }

  close(): void {
    this.closed = true;
    this.reset();
    for (const c of this.inFlight) c.abort();
    this.inFlight.clear();
  }

  private takeScenario(kind: CallbackDelivery['kind']): DeliveryScenario | undefined {
    const rule = this.store.deliveryScenarios.find((r) => (r.kinds.length === 0 || r.kinds.includes(kind)) && (r.remaining === null || r.remaining > 0));
    if (rule && rule.remaining !== null) rule.remaining--;
    if (rule) rule.matched++;
    return rule;
  }

  private enqueue(
    kind: CallbackDelivery['kind'],
    url: string,
    body: unknown,
    settings: DeliverySettings,
    scenario: DeliveryScenario | undefined,
    duplicateOf?: string,
  ): CallbackDelivery {
    const delivery: CallbackDelivery = {
      id: randomUUID(),
      kind,
      url,
      body,
      state: scenario?.hold ? 'held' : 'pending',
      attempts: [],
      ...(duplicateOf ? { duplicate_of: duplicateOf } : {}),
    };
    this.settingsOf.set(delivery, settings);
    this.store.callbacks.push(delivery);
    if (scenario?.hold) {
      this.held.push(delivery);
      return delivery;
    }
    const generation = this.store.generation;
    const delay = (settings.initialDelayMs ?? 0) + (scenario?.delay_ms ?? 0);
    if (delay > 0) {
      const first = setTimeout(() => {
        this.timers.delete(first);
        void this.attempt(delivery, 1, settings, generation);
      }, delay);
      this.timers.add(first);
    } else void this.attempt(delivery, 1, settings, generation);
    return delivery;
  }

  private fire(s: Scheduled): Promise<void> {
    if (this.scheduled.get(s.delivery.id) !== s) return Promise.resolve();
    this.scheduled.delete(s.delivery.id);
    clearTimeout(s.timer);
    return this.attempt(s.delivery, s.attempt, s.settings, s.generation);
  }

  private async attempt(delivery: CallbackDelivery, n: number, settings: DeliverySettings, generation: number): Promise<void> {
    if (this.closed || generation !== this.store.generation) return;
    delete delivery.next_attempt_at;
    const controller = new AbortController();
    this.inFlight.add(controller);
    const timer = setTimeout(() => controller.abort(), settings.timeoutMs);
    // The retry wait counts from the moment this attempt is recorded as over.
    let endedAt = 0;
    try {
      const response = await fetch(delivery.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'user-agent': 'Klarna-Simulator/1.0', ...settings.headers },
        body: settings.raw ?? JSON.stringify(delivery.body),
        signal: controller.signal,
      });
      await response.arrayBuffer().catch(() => undefined);
      endedAt = this.store.clock.nowMs();
      delivery.attempts.push({ at: new Date(endedAt).toISOString(), status: response.status });
      if (response.ok) {
        delivery.state = 'delivered';
        return;
      }
    } catch (err) {
      const error = controller.signal.aborted ? `timeout after ${settings.timeoutMs} ms` : String((err as Error).cause ?? (err as Error).message);
      endedAt = this.store.clock.nowMs();
      delivery.attempts.push({ at: new Date(endedAt).toISOString(), error });
    } finally {
      clearTimeout(timer);
      this.inFlight.delete(controller);
    }
    if (this.closed || generation !== this.store.generation) return;
    if (n > settings.retryDelaysMs.length) {
      delivery.state = 'failed';
      this.logger?.warn({ url: redactQuery(delivery.url), attempts: n }, 'callback delivery gave up');
      return;
    }
    const waitMs = settings.retryDelaysMs[n - 1]!;
    const dueMs = endedAt + waitMs;
    delivery.next_attempt_at = new Date(dueMs).toISOString();
    const entry: Scheduled = {
      delivery,
      attempt: n + 1,
      dueMs,
      settings,
      generation,
      // setTimeout fires at once beyond 2^31−1 ms; a wait that long is left to the clock control.
      timer: setTimeout(() => void this.fire(entry), Math.min(Math.round(waitMs * this.scale), MAX_TIMER_MS)),
    };
    this.scheduled.set(delivery.id, entry);
  }
}

/** Callback URLs carry the merchant's secret in the query: keep it out of logs. */
export function redactQuery(url: string): string {
  const i = url.indexOf('?');
  return i < 0 ? url : `${url.slice(0, i)}?…`;
}
