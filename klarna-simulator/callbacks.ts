import { randomUUID } from 'node:crypto';
import type { CallbackDelivery, SimStore } from './state/store.js';

export interface CallbackLogger {
  warn(obj: object, msg: string): void;
}

export interface DeliverySettings {
  timeoutMs: number;
  maxAttempts: number;
  retryBaseMs: number;
  /** Explicit waits before each retry (v2 webhooks: 10 s, 2 min, …); overrides the backoff. */
  retryDelaysMs?: number[];
  /** Extra headers (v2 webhook signature). */
  headers?: Record<string, string>;
  /** The exact bytes to send, when they were signed. */
  raw?: string;
  /** Wait before the first attempt (scenario: a late callback racing the checkout). */
  initialDelayMs?: number;
}

/**
 * Klarna's authorization callback as documented (klarna-api-facts §1): a JSON POST to
 * merchant_urls.authorization, 2 s timeout, up to 3 attempts with exponential backoff from 1 s,
 * best effort. Runs in the background: the control call that triggered it does not wait. Every
 * attempt is recorded for `GET /_sim/callbacks`.
 */
export class CallbackDispatcher {
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly inFlight = new Set<AbortController>();
  private closed = false;
  private readonly settingsOf = new WeakMap<CallbackDelivery, DeliverySettings>();

  constructor(
    private readonly store: SimStore,
    private readonly settings: DeliverySettings,
    private readonly logger?: CallbackLogger,
  ) {}

  /** `overrides` for kinds with other rules (HPP status_update: 3 s timeout, 3 retries). */
  dispatch(kind: CallbackDelivery['kind'], url: string, body: unknown, overrides: Partial<DeliverySettings> = {}): CallbackDelivery {
    const delivery: CallbackDelivery = { id: randomUUID(), kind, url, body, state: 'pending', attempts: [] };
    const settings = { ...this.settings, ...overrides };
    this.settingsOf.set(delivery, settings);
    this.store.callbacks.push(delivery);
    const generation = this.store.generation;
    if (settings.initialDelayMs) {
      const first = setTimeout(() => {
        this.timers.delete(first);
        void this.attempt(delivery, 1, generation, settings);
      }, settings.initialDelayMs);
      this.timers.add(first);
    } else void this.attempt(delivery, 1, generation, settings);
    return delivery;
  }

  /** Sends an earlier delivery again as a new delivery (a duplicate, as at-least-once delivery allows). */
  redeliver(delivery: CallbackDelivery): CallbackDelivery {
    return this.dispatch(delivery.kind, delivery.url, delivery.body, this.settingsOf.get(delivery));
  }

  private async attempt(delivery: CallbackDelivery, n: number, generation: number, settings: DeliverySettings): Promise<void> {
    if (this.closed || generation !== this.store.generation) return;
    const controller = new AbortController();
    this.inFlight.add(controller);
    const timer = setTimeout(() => controller.abort(), settings.timeoutMs);
    try {
      const response = await fetch(delivery.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'user-agent': 'Klarna-Simulator/1.0', ...settings.headers },
        body: settings.raw ?? JSON.stringify(delivery.body),
        signal: controller.signal,
      });
      await response.arrayBuffer().catch(() => undefined);
      delivery.attempts.push({ at: this.store.clock.iso(), status: response.status });
      if (response.ok) {
        delivery.state = 'delivered';
        return;
      }
    } catch (err) {
      const error = controller.signal.aborted ? `timeout after ${settings.timeoutMs} ms` : String((err as Error).cause ?? (err as Error).message);
      delivery.attempts.push({ at: this.store.clock.iso(), error });
    } finally {
      clearTimeout(timer);
      this.inFlight.delete(controller);
    }
    if (this.closed || generation !== this.store.generation) return;
    const maxAttempts = settings.retryDelaysMs ? settings.retryDelaysMs.length + 1 : settings.maxAttempts;
    if (n >= maxAttempts) {
      delivery.state = 'failed';
      this.logger?.warn({ url: redactQuery(delivery.url), attempts: n }, 'callback delivery gave up');
      return;
    }
    const delay = settings.retryDelaysMs ? settings.retryDelaysMs[n - 1]! : settings.retryBaseMs * 2 ** (n - 1);
    const retry = setTimeout(() => {
      this.timers.delete(retry);
      void this.attempt(delivery, n + 1, generation, settings);
    }, delay);
    this.timers.add(retry);
  }

  close(): void {
    this.closed = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    for (const c of this.inFlight) c.abort();
    this.inFlight.clear();
  }
}

/** Callback URLs carry the merchant's secret in the query: keep it out of logs. */
export function redactQuery(url: string): string {
  const i = url.indexOf('?');
  return i < 0 ? url : `${url.slice(0, i)}?…`;
}
