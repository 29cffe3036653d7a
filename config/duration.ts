import { z } from 'zod';

const units = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/**
 * The strings `durationMs` takes: a number greater than 0, optionally with a unit. Also the
 * OpenAPI document's `pattern`, so what the document allows is what is accepted.
 */
export const durationPattern = /^\s*(0*[1-9]\d*(?:\.\d+)?|0+\.\d*[1-9]\d*)\s*(ms|s|m|h|d)?\s*$/;
const message = 'must be a duration greater than 0, such as 500ms, 90s, 30m, 2h or 1d';

/**
 * A duration like `90s`, `30m`, `2h`, `1d` or plain milliseconds (a number, or a string without
 * unit), parsed to whole milliseconds; anything above 0 and below 1 ms counts as 1 ms.
 */
export const durationMs = z
  .union([z.number().positive(message), z.string().regex(durationPattern, message)])
  .transform((value) => {
    const match = durationPattern.exec(String(value));
    // A positive number's String() may be exponential (1e-7, 1e21): judged by value, not by text.
    const ms = match ? Number(match[1]) * units[(match[2] ?? 'ms') as keyof typeof units] : Number(value);
    return Math.max(1, Math.round(ms));
  });
