import { ActivityFailure, ApplicationFailure } from '@temporalio/workflow';

// Reading why an activity failed, for workflows: the failure an activity threw arrives
// wrapped in an `ActivityFailure` (one per retry layer); these unwrap it.

/** The failure under every `ActivityFailure` wrapper. */
export function rootCause(err: unknown): unknown {
  let e = err;
  while (e instanceof ActivityFailure && e.cause) e = e.cause;
  return e;
}

/**
 * The activity's own `ApplicationFailure` (message and type), made non-retryable so the
 * workflow fails with it as its reason; any other error as it came.
 */
export function rootCauseFailure(err: unknown): unknown {
  const e = rootCause(err);
  return e instanceof ApplicationFailure ? ApplicationFailure.nonRetryable(e.message, e.type) : err;
}
