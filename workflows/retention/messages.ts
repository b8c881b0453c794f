import { defineQuery } from '@temporalio/workflow';
import type { Tier } from '../../lib/contracts/index.js';

export interface RetentionInput {
  /**
   * The UTC date the run is for (`YYYY-MM-DD`), for its report; absent (as in the runs the
   * Schedule starts), the date of the workflow's start.
   */
  date?: string;
  /** Raw events per delete; defaults to RETENTION_BATCH_SIZE. Tests make it small. */
  batchSize?: number;
  /** How long one activity call keeps deleting; defaults to RETENTION_ACTIVITY_BUDGET_MS. */
  activityBudgetMs?: number;
}

export interface TierRetention {
  tier: Tier;
  /** The tier's window, from TIER_LIMITS. */
  retentionDays: number;
  /** Raw events that happened before this instant were deleted (ISO). */
  cutoff: string;
  /** Raw events deleted in this run. */
  deleted: number;
  /** Whether the tier is finished. */
  done: boolean;
}

export interface RetentionResult {
  date: string;
  tiers: TierRetention[];
  /** Raw events deleted in this run, over every tier. */
  deleted: number;
}

/** Counts per tier so far; operators read it in Temporal UI. */
export const retentionProgressQuery = defineQuery<RetentionResult>('progress');
