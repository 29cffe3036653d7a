/**
 * The simulator's clock: real time plus an offset that tests move forward with
 * `POST /_sim/clock/advance`. Every expiry (sessions 48 h, authorizations 60 min, idempotency
 * keys 24 h) is judged against this clock, so tests never sleep for real.
 */
export class SimClock {
  private offsetMs = 0;

  nowMs(): number {
    return Date.now() + this.offsetMs;
  }

  now(): Date {
    return new Date(this.nowMs());
  }

  iso(): string {
    return this.now().toISOString();
  }

  advance(seconds: number): void {
    this.offsetMs += Math.round(seconds * 1000);
  }

  offsetSeconds(): number {
    return this.offsetMs / 1000;
  }

  reset(): void {
    this.offsetMs = 0;
  }
}

export const SECOND = 1000;
export const MINUTE = 60 * SECOND;
export const HOUR = 60 * MINUTE;
