import {
  ScheduleAlreadyRunning,
  WorkflowExecutionAlreadyStartedError,
  type Client,
  type ScheduleOptions,
  type ScheduleUpdateOptions,
  type WorkflowHandle,
} from '@temporalio/client';
import {
  BILLING_CLOSE_SCHEDULE_AT,
  BILLING_CLOSE_SCHEDULE_ID,
  BILLING_CLOSE_WORKFLOW_KIND,
  BILLING_MONTH_END_WORKFLOW_ID,
  billingCloseWorkflowId,
  isPeriod,
  periodEndMs,
} from '../../workflows/billing-close/config.js';
import type {
  BillingCloseInput,
  BillingCloseResult,
  BillingMonthEndInput,
} from '../../workflows/billing-close/messages.js';
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
 * Creates the Schedule, or brings an existing one to the wanted spec, action and policies (its
 * id is fixed; its state is kept, so an operator's pause sticks): safe at every platform start,
 * and by several platforms at once.
 */
async function ensureSchedule(
  client: Client,
  scheduleId: string,
  wanted: ScheduleUpdateOptions,
): Promise<{ scheduleId: string; created: boolean }> {
  try {
    await client.schedule.create({ scheduleId, ...wanted } as ScheduleOptions);
    return { scheduleId, created: true };
  } catch (err) {
    if (!(err instanceof ScheduleAlreadyRunning)) throw err;
  }
  await client.schedule
    .getHandle(scheduleId)
    .update((previous) => ({ ...previous, spec: wanted.spec, action: wanted.action, policies: wanted.policies }));
  return { scheduleId, created: false };
}

/** Creates the retention Schedule, or brings an existing one to the current spec. */
export async function ensureRetentionSchedule(
  client: Client,
  opts: { taskQueue?: string; scheduleId?: string } = {},
): Promise<{ scheduleId: string; created: boolean }> {
  return ensureSchedule(
    client,
    opts.scheduleId ?? RETENTION_SCHEDULE_ID,
    retentionSchedule(opts.taskQueue ?? DEPLOY_TASK_QUEUE),
  );
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

/** The month-end workflow only starts the close; if it has not after this long, something is wrong. */
const BILLING_MONTH_END_TIMEOUT = '1h';

/**
 * The billing-close Schedule as it should be: the 1st of each month at 00:10 UTC, starting
 * `billingMonthEndWorkflow` (as `billing-month-end-<scheduled time>`), which starts
 * `billing-close-<previous month>` as an abandoned child — the fixed id that an admin start
 * uses too, so a period never has two closes running.
 *
 * Overlap SKIP: the month-end run ends as soon as it has started the close, so an overlap only
 * means a stuck run, which a second would not help. Catch-up window of a week: if Temporal was
 * down on the 1st, the close starts when it is back (the month-end run names the previous month
 * of its own start, right for any start in the month).
 */
function billingCloseSchedule(taskQueue: string): ScheduleUpdateOptions {
  return {
    spec: { calendars: [{ ...BILLING_CLOSE_SCHEDULE_AT, comment: 'monthly billing-period close (UTC)' }] },
    action: {
      type: 'startWorkflow',
      workflowType: 'billingMonthEndWorkflow',
      workflowId: BILLING_MONTH_END_WORKFLOW_ID,
      taskQueue,
      args: [{} satisfies BillingMonthEndInput],
      workflowExecutionTimeout: BILLING_MONTH_END_TIMEOUT,
      typedSearchAttributes: [{ key: WorkflowKindKey, value: BILLING_CLOSE_WORKFLOW_KIND }],
    },
    policies: { overlap: 'SKIP', catchupWindow: '7 days', pauseOnFailure: false },
    state: { paused: false, note: 'created by the platform at start (lib/temporal/schedules.ts)' },
  };
}

/** Creates the billing-close Schedule, or brings an existing one to the current spec. */
export async function ensureBillingCloseSchedule(
  client: Client,
  opts: { taskQueue?: string; scheduleId?: string } = {},
): Promise<{ scheduleId: string; created: boolean }> {
  return ensureSchedule(
    client,
    opts.scheduleId ?? BILLING_CLOSE_SCHEDULE_ID,
    billingCloseSchedule(opts.taskQueue ?? DEPLOY_TASK_QUEUE),
  );
}

export interface BillingCloseStart {
  workflowId: string;
  /**
   * `started`: this call started it; `running`: a close of the period was running (the
   * Schedule's, or another admin's) and is joined; `completed`: it had completed before.
   */
  state: 'started' | 'running' | 'completed';
  /** The first run's id, when this call started it (later runs follow by continue-as-new). */
  firstRunId?: string;
  handle: WorkflowHandle<(input: BillingCloseInput) => Promise<BillingCloseResult>>;
}

/**
 * Starts `billing-close-<period>` (what `npm run admin -- close-period <YYYY-MM>` does), or
 * finds the one running or completed. A close that failed (Lemon Squeezy refusing the key, a
 * long outage) starts again and resumes: what it closed and reported is recorded. A period
 * that has not ended is refused here, before anything starts.
 */
export async function startBillingClose(
  client: Client,
  opts: { period: string; taskQueue?: string; input?: Omit<BillingCloseInput, 'period' | 'state'>; now?: Date },
): Promise<BillingCloseStart> {
  const { period } = opts;
  if (!isPeriod(period)) throw new Error(`"${period}" is not a period (YYYY-MM)`);
  const endsAt = periodEndMs(period);
  if ((opts.now ?? new Date()).getTime() < endsAt)
    throw new Error(`billing period ${period} has not ended; it can be closed from ${new Date(endsAt).toISOString()}`);
  const workflowId = billingCloseWorkflowId(period);
  try {
    const handle = await client.workflow.start('billingCloseWorkflow', {
      taskQueue: opts.taskQueue ?? DEPLOY_TASK_QUEUE,
      workflowId,
      args: [{ ...opts.input, period } satisfies BillingCloseInput],
      workflowIdConflictPolicy: 'FAIL',
      workflowIdReusePolicy: 'ALLOW_DUPLICATE_FAILED_ONLY',
      typedSearchAttributes: [{ key: WorkflowKindKey, value: BILLING_CLOSE_WORKFLOW_KIND }],
    });
    return {
      workflowId,
      state: 'started',
      firstRunId: handle.firstExecutionRunId,
      handle: handle as BillingCloseStart['handle'],
    };
  } catch (err) {
    if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
  }
  const handle = client.workflow.getHandle(workflowId) as BillingCloseStart['handle'];
  const { status } = await handle.describe();
  return { workflowId, state: status.name === 'RUNNING' ? 'running' : 'completed', handle };
}
