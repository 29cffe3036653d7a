import { ActivityFailure, ApplicationFailure, TimeoutFailure } from '@temporalio/workflow';
import type { FlowFailure } from '../contracts/flow-status.js';
import { kindFromFailureType } from '../klarna/error-kinds.js';

/**
 * Turns an activity failure into the flow's documented failure: a kind from klarna/errors.ts,
 * Klarna's error code, correlation id and (for charges) step_up_id kept; no secrets.
 * Klarna activities retry retryable errors until their step's deadline, so a retryable failure
 * reaching the workflow means that deadline ran out: `deadline_exceeded`.
 */
export function describeFailure(err: unknown): FlowFailure {
  const cause = err instanceof ActivityFailure ? err.cause : err;
  if (cause instanceof ApplicationFailure) {
    const details = (cause.details?.[0] ?? {}) as { error_code?: string; correlation_id?: string; step_up_id?: string };
    const klarna = {
      ...(details.error_code ? { klarna_error_code: details.error_code } : {}),
      ...(details.correlation_id ? { klarna_correlation_id: details.correlation_id } : {}),
      ...(details.step_up_id ? { step_up_id: details.step_up_id } : {}),
    };
    if (!cause.nonRetryable) return { kind: 'deadline_exceeded', message: `gave up retrying at the deadline; last error: ${cause.message}`, ...klarna };
    return { kind: kindFromFailureType(cause.type) ?? cause.type ?? 'internal', message: cause.message, ...klarna };
  }
  if (cause instanceof TimeoutFailure) return { kind: 'deadline_exceeded', message: `gave up at the deadline: ${cause.message}` };
  return { kind: 'internal', message: err instanceof Error ? err.message : String(err) };
}
