import { Context } from '@temporalio/activity';
import { TIER_LIMITS, type Tier } from '../lib/contracts/index.js';
import type { Store } from '../lib/store/index.js';
import { storeCall } from './calls.js';

export interface RetentionActivityDeps {
  store: Store;
}

export type RetentionPolicyInput = Record<string, never>;

export interface RetentionPolicyResult {
  /** Every tier and how many days its raw telemetry is kept (TIER_LIMITS). */
  tiers: { tier: Tier; retentionDays: number }[];
}

export interface DeleteExpiredTelemetryInput {
  tier: Tier;
  /** Raw events that happened before this instant (ISO) are deleted. */
  cutoff: string;
  /** Events per delete (the store allows 1–10,000). */
  batchSize: number;
  /** How long this call keeps deleting before it returns `more: true`. */
  budgetMs: number;
}

export interface DeleteExpiredTelemetryResult {
  /** Events this call deleted. */
  deleted: number;
  /** Log lines this call deleted (the same cutoff: logs are kept as long as raw telemetry). */
  logsDeleted?: number;
  /** The budget ran out before a batch came back short: call again. */
  more: boolean;
}

/** Heartbeat details: the running count of this call, for operators in Temporal UI. */
export interface DeleteExpiredTelemetryProgress {
  deleted: number;
  logsDeleted: number;
  batches: number;
}

/**
 * Telemetry retention. Safe to retry and to repeat: each delete removes only events still
 * older than the cutoff, and an event deleted once is gone, so a retried or repeated call
 * deletes what is left (possibly nothing). For the same reason a retry does not resume from
 * its heartbeat details: starting over finds the events already deleted gone.
 */
export function createRetentionActivities(deps: RetentionActivityDeps) {
  return {
    /**
     * The tiers' windows, read here rather than in the workflow so the workflow bundle does not
     * carry the contracts (and zod); recorded in the run's history, so a changed table applies
     * from the next run on. Reads a constant: safe to retry.
     */
    async retentionPolicy(_input: RetentionPolicyInput): Promise<RetentionPolicyResult> {
      return {
        tiers: (Object.keys(TIER_LIMITS) as Tier[]).map((tier) => ({
          tier,
          retentionDays: TIER_LIMITS[tier].telemetryRetentionDays,
        })),
      };
    },

    /**
     * Deletes the raw telemetry events and log lines of owners on `tier` older than `cutoff`, a
     * batch of each at a time, until both come back short of `batchSize` (done) or the budget
     * runs out (`more: true`). Heartbeats with the running count after each batch; stops between
     * batches when the workflow cancels it.
     */
    async deleteExpiredTelemetry(input: DeleteExpiredTelemetryInput): Promise<DeleteExpiredTelemetryResult> {
      const ctx = Context.current();
      const cutoff = new Date(input.cutoff);
      const started = Date.now();
      const progress: DeleteExpiredTelemetryProgress = { deleted: 0, logsDeleted: 0, batches: 0 };
      let eventsLeft = true;
      let logsLeft = true;
      for (;;) {
        if (eventsLeft) {
          const { deleted } = await storeCall(() =>
            deps.store.deleteTelemetryBefore({ tier: input.tier, cutoff, limit: input.batchSize }),
          );
          progress.deleted += deleted;
          eventsLeft = deleted >= input.batchSize;
        }
        if (logsLeft) {
          const { deleted } = await storeCall(() =>
            deps.store.deleteLogsBefore({ tier: input.tier, cutoff, limit: input.batchSize }),
          );
          progress.logsDeleted += deleted;
          logsLeft = deleted >= input.batchSize;
        }
        progress.batches += 1;
        ctx.heartbeat(progress);
        const result = { deleted: progress.deleted, logsDeleted: progress.logsDeleted };
        if (!eventsLeft && !logsLeft) return { ...result, more: false };
        if (Date.now() - started >= input.budgetMs) return { ...result, more: true };
        if (ctx.cancellationSignal.aborted) throw ctx.cancellationSignal.reason;
      }
    },
  };
}
