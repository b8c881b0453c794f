import { ApplicationFailure, Context } from '@temporalio/activity';
import { AppError } from '../lib/contracts/index.js';
import type { Runtime } from '../lib/contracts/index.js';
import { ProviderError, type RuntimeProvider } from '../lib/runtime/provider.js';
import { PermanentFailure, type PermanentFailureType } from '../workflows/failures.js';

/** Failure types for what the store refuses. */
const STORE_REFUSALS: Partial<Record<AppError['code'], PermanentFailureType>> = {
  not_found: PermanentFailure.NotFound,
  conflict: PermanentFailure.DeploymentConflict,
  validation_failed: PermanentFailure.InvalidInput,
};

/** A store call: what the store refuses cannot be fixed by retrying and fails at once; anything else is retried. */
export async function storeCall<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof AppError) {
      throw ApplicationFailure.nonRetryable(err.message, STORE_REFUSALS[err.code] ?? PermanentFailure.StoreRefused);
    }
    throw err;
  }
}

/** The provider of a runtime; a runtime this platform has none for fails for good. */
export function requireProvider(
  providers: Partial<Record<Runtime, RuntimeProvider>>,
  runtime: Runtime,
): RuntimeProvider {
  const provider = providers[runtime];
  if (!provider) {
    throw ApplicationFailure.nonRetryable(
      `the ${runtime} runtime is not configured on this platform`,
      PermanentFailure.RuntimeUnavailable,
    );
  }
  return provider;
}

/** How often an activity waiting on a provider says it is alive (its heartbeat timeout is a few times this). */
export const PROVIDER_HEARTBEAT_MS = 5_000;

/**
 * A provider call: its `ProviderError` says whether to retry, and under which failure type.
 * While it runs the activity heartbeats, so a worker that died mid-call is noticed within the
 * activity's heartbeat timeout and the call retried elsewhere, not after its whole
 * start-to-close timeout.
 */
export async function providerCall<T>(fn: () => Promise<T>): Promise<T> {
  const activity = currentActivity();
  const beat = activity ? setInterval(() => activity.heartbeat(), PROVIDER_HEARTBEAT_MS) : undefined;
  try {
    return await fn();
  } catch (err) {
    if (err instanceof ProviderError) {
      throw err.kind === 'permanent'
        ? ApplicationFailure.nonRetryable(err.message, err.type)
        : ApplicationFailure.retryable(err.message, err.type);
    }
    throw err;
  } finally {
    clearInterval(beat);
  }
}

/** The running activity's context; none when called outside one (a script, a test). */
function currentActivity(): Context | null {
  try {
    return Context.current();
  } catch {
    return null;
  }
}
