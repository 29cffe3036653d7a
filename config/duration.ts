import { z } from 'zod';

const units = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** A duration like `90s`, `30m`, `2h`, `1d` or plain milliseconds, parsed to milliseconds. */
export const durationMs = z.union([z.number(), z.string()]).transform((value, ctx) => {
  const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$/.exec(String(value));
  if (!match) {
    ctx.addIssue({ code: 'custom', message: 'must be a duration such as 500ms, 90s, 30m, 2h or 1d' });
    return z.NEVER;
  }
  const ms = Number(match[1]) * units[(match[2] ?? 'ms') as keyof typeof units];
  if (ms < 1) {
    ctx.addIssue({ code: 'custom', message: 'must be at least 1ms' });
    return z.NEVER;
  }
  return Math.round(ms);
});
