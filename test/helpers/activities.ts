import { MockActivityEnvironment } from '@temporalio/testing';

/**
 * Runs an activity in a `MockActivityEnvironment` (activity context, heartbeats, cancellation)
 * with its own input and result types, which the environment's generic `run` loses.
 */
export function activityRunner(env = new MockActivityEnvironment()) {
  return <I, O>(fn: (input: I) => Promise<O>, input: I): Promise<O> => env.run(fn, input) as Promise<O>;
}
