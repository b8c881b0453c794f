/**
 * One retention run per day. Runs the Schedule starts are named by Temporal: it appends the
 * scheduled time to the action's workflow id (`retention-2026-11-22T03:15:00Z`), so their ids
 * start with `retention-<date>` too; `admin -- retention-now` starts `retention-<today>`.
 */
export const retentionWorkflowId = (date: string) => `retention-${date}`;

export const RETENTION_WORKFLOW_KIND = 'retention';

/** The Schedule that starts retention daily (created or updated at platform start). */
export const RETENTION_SCHEDULE_ID = 'retention-daily';

/** The workflow id the Schedule's action names; Temporal adds `-<scheduled time>` to it. */
export const RETENTION_SCHEDULED_WORKFLOW_ID = 'retention';

/** When the Schedule runs: daily at 03:15 UTC, a quiet hour. */
export const RETENTION_SCHEDULE_AT = { hour: 3, minute: 15 } as const;

/**
 * Raw events deleted per store call: small enough that one delete is a short transaction
 * (the store allows up to 10,000), large enough that a day's expiry takes few calls.
 */
export const RETENTION_BATCH_SIZE = 5_000;

/**
 * How long one activity call keeps deleting before it hands back to the workflow with
 * `more: true`: bounded so an activity never runs into its start-to-close timeout.
 */
export const RETENTION_ACTIVITY_BUDGET_MS = 5 * 60_000;

/** The UTC date of an instant, `YYYY-MM-DD`. */
export const utcDate = (at: Date) => at.toISOString().slice(0, 10);
