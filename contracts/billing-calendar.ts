// Billing calendar: when period n of a subscription falls due. Pure and deterministic (no clock,
// no I/O), so the subscription workflow can call it and tests can check it directly.
//
// Every period is computed from the anchor (never from the previous due date): a 31 January
// anchor gives 28/29 February, 31 March, 30 April, 31 May… The anchor's wall-clock time is kept
// in the subscription's IANA time zone across DST changes (offsets from Intl.DateTimeFormat); a
// wall-clock time that does not exist on a spring-forward day is moved forward by the gap.

/** `SECOND` is for tests only: the API refuses it (workflows and test harnesses may use it). */
export type BillingInterval = 'DAY' | 'WEEK' | 'MONTH' | 'YEAR' | 'SECOND';

export interface BillingCadence {
  /** ISO 8601 instant (with offset or Z): period 0 is due then. */
  anchor: string;
  /** IANA time zone, e.g. Europe/Stockholm. */
  time_zone: string;
  interval: BillingInterval;
  interval_count: number;
}

interface WallTime {
  year: number;
  month: number; // 1-12
  day: number;
  hour: number;
  minute: number;
  second: number;
  millisecond: number;
}

const formatters = new Map<string, Intl.DateTimeFormat>();
function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
    });
    formatters.set(timeZone, f);
  }
  return f;
}

/** Whether `timeZone` is an IANA zone this runtime knows. */
export function isValidTimeZone(timeZone: string): boolean {
  try {
    formatter(timeZone);
    return true;
  } catch {
    return false;
  }
}

/** The wall-clock time of `instant` in `timeZone`. */
export function wallTime(instant: number, timeZone: string): WallTime {
  const parts: Record<string, number> = {};
  for (const p of formatter(timeZone).formatToParts(new Date(instant))) {
    if (p.type !== 'literal') parts[p.type] = Number(p.value);
  }
  return {
    year: parts.year!,
    month: parts.month!,
    day: parts.day!,
    hour: parts.hour! % 24,
    minute: parts.minute!,
    second: parts.second!,
    millisecond: ((instant % 1000) + 1000) % 1000,
  };
}

/** The zone's offset from UTC at `instant`, in ms (positive east of Greenwich). */
export function zoneOffsetMs(instant: number, timeZone: string): number {
  const w = wallTime(instant, timeZone);
  return Date.UTC(w.year, w.month - 1, w.day, w.hour, w.minute, w.second, w.millisecond) - instant;
}

const asUtc = (w: WallTime) => Date.UTC(w.year, w.month - 1, w.day, w.hour, w.minute, w.second, w.millisecond);

/**
 * The instant at which `timeZone` shows the wall-clock time `w`. Ambiguous times (autumn: the
 * hour happens twice) resolve to the earlier instant; times that do not exist (spring: the
 * clocks jump) move forward by the gap.
 */
export function instantOf(w: WallTime, timeZone: string): number {
  const local = asUtc(w);
  // Try the offsets in force around that time; keep the candidates that show `w`.
  const offsets = new Set([zoneOffsetMs(local - 86_400_000, timeZone), zoneOffsetMs(local, timeZone), zoneOffsetMs(local + 86_400_000, timeZone)]);
  const exact = [...offsets].map((o) => local - o).filter((t) => asUtc(wallTime(t, timeZone)) === local);
  if (exact.length > 0) return Math.min(...exact);
  // In a gap: the offset before the jump, which lands after it by the gap's length.
  return local - zoneOffsetMs(local - 86_400_000, timeZone);
}

const daysInMonth = (year: number, month: number) => new Date(Date.UTC(year, month, 0)).getUTCDate();

/** When period `n` (0-based; period 0 is the anchor) is due, as epoch ms. */
export function dueAt(cadence: BillingCadence, n: number): number {
  const anchor = Date.parse(cadence.anchor);
  const steps = n * cadence.interval_count;
  if (cadence.interval === 'SECOND') return anchor + steps * 1000;
  const a = wallTime(anchor, cadence.time_zone);
  let w: WallTime;
  switch (cadence.interval) {
    case 'DAY':
    case 'WEEK': {
      const days = cadence.interval === 'DAY' ? steps : steps * 7;
      const d = new Date(Date.UTC(a.year, a.month - 1, a.day + days));
      w = { ...a, year: d.getUTCFullYear(), month: d.getUTCMonth() + 1, day: d.getUTCDate() };
      break;
    }
    case 'MONTH':
    case 'YEAR': {
      const months = a.year * 12 + (a.month - 1) + (cadence.interval === 'MONTH' ? steps : steps * 12);
      const year = Math.floor(months / 12);
      const month = (months % 12) + 1;
      w = { ...a, year, month, day: Math.min(a.day, daysInMonth(year, month)) };
      break;
    }
  }
  return instantOf(w, cadence.time_zone);
}

/** ISO string of `dueAt`. */
export const dueDate = (cadence: BillingCadence, n: number) => new Date(dueAt(cadence, n)).toISOString();

/** The calendar date (YYYY-MM-DD) of period `n` in the subscription's zone. */
export function localDueDate(cadence: BillingCadence, n: number): string {
  const w = wallTime(dueAt(cadence, n), cadence.time_zone);
  return `${w.year}-${String(w.month).padStart(2, '0')}-${String(w.day).padStart(2, '0')}`;
}

/** The highest period index due at or before `now` (-1 when period 0 is still ahead). */
export function lastDuePeriod(cadence: BillingCadence, now: number, from = 0): number {
  if (dueAt(cadence, from) > now) return from - 1;
  // Gallop then bisect: periods are strictly increasing in time.
  let lo = from;
  let step = 1;
  while (dueAt(cadence, lo + step) <= now) {
    lo += step;
    step *= 2;
  }
  let hi = lo + step; // due after now
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    if (dueAt(cadence, mid) <= now) lo = mid;
    else hi = mid;
  }
  return lo;
}
