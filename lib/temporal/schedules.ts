import {
  ScheduleAlreadyRunning,
  WorkflowExecutionAlreadyStartedError,
  type Client,
  type ScheduleOptions,
  type ScheduleUpdateOptions,
} from '@temporalio/client';
import { DEPLOY_TASK_QUEUE } from '../../workflows/deploy/config.js';
import {
  RETENTION_SCHEDULE_AT,
  RETENTION_SCHEDULE_ID,
  RETENTION_SCHEDULED_WORKFLOW_ID,
  RETENTION_WORKFLOW_KIND,
  retentionWorkflowId,
  utcDate,
} from '../../workflows/retention/config.js';
import type { RetentionInput, RetentionResult } from '../../workflows/retention/messages.js';
import { WorkflowKindKey } from './search-attributes.js';

/** A retention run that still runs after this long failed; the next day's run starts afresh. */
const RETENTION_RUN_TIMEOUT = '20h';

/**
 * The retention Schedule as it should be: daily at 03:15 UTC, starting `retentionWorkflow` on
 * the deploy task queue as `retention-<scheduled time>` (Temporal appends the time).
 *
 * Overlap SKIP: a run still going when the next is due is already deleting everything the next
 * would (its cutoff is only a day older), so the next is skipped rather than queued behind it
 * (BUFFER_ONE would only repeat the same deletes right after). Catch-up window of a day: after
 * the platform was down for a week, one run catches up, not seven.
 */
function retentionSchedule(taskQueue: string): ScheduleUpdateOptions {
  return {
    spec: { calendars: [{ ...RETENTION_SCHEDULE_AT, comment: 'daily telemetry retention (UTC)' }] },
    action: {
      type: 'startWorkflow',
      workflowType: 'retentionWorkflow',
      workflowId: RETENTION_SCHEDULED_WORKFLOW_ID,
      taskQueue,
      args: [{} satisfies RetentionInput],
      workflowExecutionTimeout: RETENTION_RUN_TIMEOUT,
      typedSearchAttributes: [{ key: WorkflowKindKey, value: RETENTION_WORKFLOW_KIND }],
    },
    policies: { overlap: 'SKIP', catchupWindow: '1 day', pauseOnFailure: false },
    state: { paused: false, note: 'created by the platform at start (lib/temporal/schedules.ts)' },
  };
}

/**
 * Creates the retention Schedule, or brings an existing one to the current spec (its id is
 * fixed): safe at every platform start, and by several platforms at once.
 */
export async function ensureRetentionSchedule(
  client: Client,
  opts: { taskQueue?: string; scheduleId?: string } = {},
): Promise<{ scheduleId: string; created: boolean }> {
  const scheduleId = opts.scheduleId ?? RETENTION_SCHEDULE_ID;
  const wanted = retentionSchedule(opts.taskQueue ?? DEPLOY_TASK_QUEUE);
  try {
    await client.schedule.create({ scheduleId, ...wanted } as ScheduleOptions);
    return { scheduleId, created: true };
  } catch (err) {
    if (!(err instanceof ScheduleAlreadyRunning)) throw err;
  }
  // spec, action and policies as they should be; the state is kept (an operator's pause sticks)
  await client.schedule
    .getHandle(scheduleId)
    .update((previous) => ({ ...previous, spec: wanted.spec, action: wanted.action, policies: wanted.policies }));
  return { scheduleId, created: false };
}

/**
 * Starts `retention-<today>` at once (what `npm run admin -- retention-now` does) and waits for
 * its counts. One already running under that id is joined; one that ended may run again
 * (its deletes are idempotent). Not through `schedule.trigger()`, which returns no handle to
 * wait on; the Schedule's own run, if it overlaps, only finds less to delete.
 */
export async function runRetentionNow(
  client: Client,
  opts: { taskQueue?: string; input?: RetentionInput } = {},
): Promise<{ workflowId: string; result: RetentionResult }> {
  const date = opts.input?.date ?? utcDate(new Date());
  const workflowId = retentionWorkflowId(date);
  let handle;
  try {
    handle = await client.workflow.start('retentionWorkflow', {
      taskQueue: opts.taskQueue ?? DEPLOY_TASK_QUEUE,
      workflowId,
      args: [{ ...opts.input, date } satisfies RetentionInput],
      workflowIdConflictPolicy: 'USE_EXISTING',
      workflowExecutionTimeout: RETENTION_RUN_TIMEOUT,
      typedSearchAttributes: [{ key: WorkflowKindKey, value: RETENTION_WORKFLOW_KIND }],
    });
  } catch (err) {
    if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
    handle = client.workflow.getHandle(workflowId);
  }
  return { workflowId, result: (await handle.result()) as RetentionResult };
}
