import { ApplicationFailure } from '@temporalio/common';
import { KlarnaApiError, klarnaFailureType } from '../klarna/errors.js';

/**
 * Runs a Klarna call and turns its typed error into the Temporal failure the workflow sees:
 * final answers fail the activity at once (nonRetryable), transient ones are retried by Temporal.
 */
export async function asTemporalFailure<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof KlarnaApiError) {
      throw ApplicationFailure.create({
        type: klarnaFailureType(err.kind),
        message: err.message,
        nonRetryable: !err.retryable,
        details: [
          {
            kind: err.kind,
            http_status: err.details.httpStatus,
            error_code: err.details.errorCode,
            correlation_id: err.details.correlationId,
            step_up_id: err.details.stepUpId,
          },
        ],
      });
    }
    throw err;
  }
}
