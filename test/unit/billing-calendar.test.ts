import { describe, expect, it } from 'vitest';
import { dueAt, dueDate, instantOf, isValidTimeZone, lastDuePeriod, localDueDate, type BillingCadence } from '../../contracts/billing-calendar.js';

const cadence = (overrides: Partial<BillingCadence>): BillingCadence => ({
  anchor: '2027-01-31T09:00:00+01:00',
  time_zone: 'Europe/Stockholm',
  interval: 'MONTH',
  interval_count: 1,
  ...overrides,
});

describe('billing calendar', () => {
  it('a 31st anchor: the last day of shorter months, back to the 31st when the month has one (never drifts)', () => {
    const c = cadence({ anchor: '2028-01-31T09:00:00+01:00' });
    expect(Array.from({ length: 14 }, (_, n) => localDueDate(c, n))).toEqual([
      '2028-01-31', '2028-02-29', '2028-03-31', '2028-04-30', '2028-05-31', '2028-06-30', '2028-07-31',
      '2028-08-31', '2028-09-30', '2028-10-31', '2028-11-30', '2028-12-31', '2029-01-31', '2029-02-28',
    ]);
  });

  it('keeps the wall-clock time across DST (Stockholm: 09:00 is 08:00Z in winter, 07:00Z in summer)', () => {
    const c = cadence({});
    expect(dueDate(c, 0)).toBe('2027-01-31T08:00:00.000Z');
    expect(dueDate(c, 2)).toBe('2027-03-31T07:00:00.000Z'); // DST began 28 March
    expect(dueDate(c, 9)).toBe('2027-10-31T08:00:00.000Z'); // DST ended 31 October, 03:00 local
  });

  it('daily periods across the spring-forward night keep local time; a time that does not exist moves forward by the gap', () => {
    const daily = cadence({ anchor: '2027-03-27T09:00:00+01:00', interval: 'DAY' });
    expect([0, 1, 2].map((n) => dueDate(daily, n))).toEqual(['2027-03-27T08:00:00.000Z', '2027-03-28T07:00:00.000Z', '2027-03-29T07:00:00.000Z']);
    // 02:30 on 28 March 2027 does not exist in Stockholm (02:00 → 03:00): 03:30 CEST.
    const gap = cadence({ anchor: '2027-03-27T02:30:00+01:00', interval: 'DAY' });
    expect(dueDate(gap, 1)).toBe('2027-03-28T01:30:00.000Z');
    expect(dueDate(gap, 2)).toBe('2027-03-29T00:30:00.000Z'); // back to 02:30 local
    // 02:30 on 31 October 2027 happens twice: the first (CEST).
    expect(instantOf({ year: 2027, month: 10, day: 31, hour: 2, minute: 30, second: 0, millisecond: 0 }, 'Europe/Stockholm')).toBe(Date.parse('2027-10-31T00:30:00Z'));
  });

  it('weeks, years (29 February → 28 February), interval counts and other zones', () => {
    expect(localDueDate(cadence({ interval: 'WEEK', interval_count: 2 }), 3)).toBe('2027-03-14');
    const leap = cadence({ anchor: '2028-02-29T12:00:00+01:00', interval: 'YEAR' });
    expect([0, 1, 4].map((n) => localDueDate(leap, n))).toEqual(['2028-02-29', '2029-02-28', '2032-02-29']);
    expect(localDueDate(cadence({ interval_count: 3 }), 1)).toBe('2027-04-30');
    const ny = cadence({ anchor: '2027-01-31T23:30:00-05:00', time_zone: 'America/New_York' });
    expect(localDueDate(ny, 1)).toBe('2027-02-28');
    expect(dueDate(ny, 2)).toBe('2027-04-01T03:30:00.000Z'); // 23:30 EDT on 31 March
    expect(dueAt(cadence({ interval: 'SECOND', interval_count: 5 }), 3) - dueAt(cadence({ interval: 'SECOND' }), 0)).toBe(15_000);
  });

  it('lastDuePeriod finds the latest period due at an instant', () => {
    const c = cadence({});
    expect(lastDuePeriod(c, Date.parse('2027-01-31T07:59:59Z'))).toBe(-1);
    expect(lastDuePeriod(c, Date.parse('2027-01-31T08:00:00Z'))).toBe(0);
    expect(lastDuePeriod(c, Date.parse('2027-03-31T06:59:59Z'))).toBe(1);
    expect(lastDuePeriod(c, Date.parse('2027-03-31T07:00:00Z'))).toBe(2);
    expect(lastDuePeriod(c, Date.parse('2037-01-31T08:00:00Z'))).toBe(120);
    expect(lastDuePeriod(c, Date.parse('2037-01-31T08:00:00Z'), 100)).toBe(120);
  });

  it('knows IANA zones', () => {
    expect(isValidTimeZone('Europe/Stockholm')).toBe(true);
    expect(isValidTimeZone('Mars/Olympus')).toBe(false);
  });
});
