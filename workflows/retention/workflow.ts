import { proxyActivities, proxyLocalActivities, setHandler } from '@temporalio/workflow';
import type { Activities } from '../../activities/index.js';
import { PERMANENT_FAILURES as PERMANENT } from '../failures.js';
import { RETENTION_ACTIVITY_BUDGET_MS, RETENTION_BATCH_SIZE, utcDate } from './config.js';
import { retentionProgressQuery, type RetentionInput, type RetentionResult, type TierRetention } from './messages.js';

const DAY_MS = 24 * 3_600_000;

// Reading the tiers' windows: a constant in the worker, as a local activity (no round trip).
const local = proxyLocalActivities<Activities>({
  startToCloseTimeout: '10s',
  retry: { initialInterval: '100ms', maximumAttempts: 5, nonRetryableErrorTypes: PERMANENT },
});

/**
 * Deleting expired raw telemetry: one call deletes batches for up to its time budget
 * (RETENTION_ACTIVITY_BUDGET_MS, 5 min by default) and heartbeats after each batch, so a worker that
 * dies is noticed within the heartbeat timeout, not the start-to-close timeout. Deletes are
 * idempotent (an event deleted twice is deleted), so retries are harmless and patient: a
 * store that is briefly down only delays the run.
 */
const retention = proxyActivities<Activities>({
  startToCloseTimeout: '10m',
  heartbeatTimeout: '1m',
  retry: {
    initialInterval: '1s',
    backoffCoefficient: 2,
    maximumInterval: '1m',
    maximumAttempts: 10,
    nonRetryableErrorTypes: PERMANENT,
  },
});

/**
 * retention-<date>: for each tier, deletes the raw telemetry events of its owners that are
 * older than the tier's window (TIER_LIMITS[tier].telemetryRetentionDays, read by a local
 * activity), in batches.
 * Aggregates (hourly metrics, period usage) are kept. The cutoffs come from workflow time,
 * taken once at the start, so a replay computes the same ones. Returns, and answers the
 * `progress` query with, the counts per tier.
 *
 * Log lines: the platform has no log store yet, so there are none to delete; when one comes,
 * its expiry is one more activity per tier here.
 */
export async function retentionWorkflow(input: RetentionInput = {}): Promise<RetentionResult> {
  const now = Date.now();
  const batchSize = input.batchSize ?? RETENTION_BATCH_SIZE;
  const budgetMs = input.activityBudgetMs ?? RETENTION_ACTIVITY_BUDGET_MS;
  const tiers: TierRetention[] = [];
  const report = (): RetentionResult => ({
    date: input.date ?? utcDate(new Date(now)),
    tiers: tiers.map((t) => ({ ...t })),
    deleted: tiers.reduce((n, t) => n + t.deleted, 0),
  });
  setHandler(retentionProgressQuery, report);

  const policy = await local.retentionPolicy({});
  for (const { tier, retentionDays } of policy.tiers) {
    const cutoff = new Date(now - retentionDays * DAY_MS).toISOString();
    tiers.push({ tier, retentionDays, cutoff, deleted: 0, done: false });
  }

  for (const t of tiers) {
    while (!t.done) {
      const { deleted, more } = await retention.deleteExpiredTelemetry({
        tier: t.tier,
        cutoff: t.cutoff,
        batchSize,
        budgetMs,
      });
      t.deleted += deleted;
      t.done = !more;
    }
  }
  return report();
}
