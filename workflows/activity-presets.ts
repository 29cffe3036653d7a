import type { ActivityOptions, LocalActivityOptions } from '@temporalio/workflow';

// The two kinds of activity every flow runs, with their retry policies in one place.

/**
 * A call to Klarna. Retried with back-off (timeouts, 5xx, 429); Klarna's final answers fail at
 * once (the activity marks them non-retryable). Each flow adds the deadline of its step
 * (`scheduleToCloseTimeout`), after which the step ends in a defined failure.
 */
export const klarnaCall: ActivityOptions = {
  startToCloseTimeout: '30s',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '1m' },
};

/**
 * A write to (or read of) our own MongoDB. Never gives up: no schedule-to-close deadline and no
 * attempt limit, so an outage of any length delays the flow instead of failing it. Writes are
 * idempotent (natural ids, monotonic status sequence), so a retry after a lost reply is harmless.
 */
export const ownStorage: ActivityOptions = {
  startToCloseTimeout: '15s',
  retry: { initialInterval: '500ms', backoffCoefficient: 2, maximumInterval: '30s' },
};

/**
 * The same, run as a local activity (in the worker, inside the workflow task): for small, idempotent
 * writes whose retry on another worker is harmless (the flow status with its `seq`). Saves the
 * schedule/poll/complete round trips of a remote activity. Retries without limit too.
 */
export const ownStorageLocal: LocalActivityOptions = {
  startToCloseTimeout: '15s',
  retry: { initialInterval: '500ms', backoffCoefficient: 2, maximumInterval: '30s' },
  localRetryThreshold: '10s',
};
