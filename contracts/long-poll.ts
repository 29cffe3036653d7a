import { durationMs } from '../config/duration.js';

/** `?wait=` on a GET of a flow: how long the answer may wait for a change (1ms to 30s). */
export const longPollWait = durationMs.refine((ms) => ms <= 30_000, 'must be at most 30s');
