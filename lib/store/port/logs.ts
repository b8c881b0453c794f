import { z } from 'zod';
import {
  Id,
  LOG_BATCH_MAX,
  ShimLogLine,
  Tier,
  type LogLine,
  type Page,
  type PageQuery,
} from '../../contracts/index.js';
import { Instant, PageArgs, type Rules } from './rules.js';

/**
 * Log lines per agent (lib/contracts/logs.ts): each line once by its id per deployment, at most
 * `LOGS_PER_AGENT_MAX` per agent (an append past it deletes the oldest in its transaction), and
 * deleted with the tier's telemetry retention. `seq` grows with each append per agent, and an
 * agent's appends are serialized, so a reader that saw `seq` n never later finds a line below n
 * that it had not seen: a tail resumes after the last seq it printed.
 */
export interface LogStore {
  /**
   * A deployment's lines, once the deployment is known to be the agent's and the owner's (else
   * `not_found`, and nothing is kept). `dropped` > 0 adds a line saying so (level `warn`, its
   * `dropped` field the count, its id fixed by the first line's, so a redelivery adds it once).
   * Lines already kept change nothing.
   */
  appendLogs(input: AppendLogsInput): Promise<{ accepted: number; duplicates: number }>;
  /** Newest first (`?limit=&cursor=`), for a page; another owner's or a deleted agent is `not_found`. */
  listLogs(input: { ownerId: string; agentId: string } & PageQuery): Promise<Page<LogLine>>;
  /** Oldest first, the lines with seq above `after` (0: from the oldest kept), at most `limit`: for a tail. */
  listLogsAfter(input: { ownerId: string; agentId: string; after: number; limit: number }): Promise<LogLine[]>;
  /**
   * Retention: deletes at most `limit` lines, of owners on `tier`, written before `cutoff`.
   * Call again until it deletes fewer than `limit`.
   */
  deleteLogsBefore(input: { tier: Tier; cutoff: Date; limit: number }): Promise<{ deleted: number }>;
}

export interface AppendLogsInput {
  ownerId: string;
  agentId: string;
  deploymentId: string;
  lines: ShimLogLine[];
  /** Lines the shim reported it dropped before this batch. */
  dropped: number;
}

export const logRules: Rules<LogStore> = {
  appendLogs: z.tuple([
    z.object({
      ownerId: Id,
      agentId: Id,
      deploymentId: Id,
      lines: z
        .array(ShimLogLine)
        .min(1)
        .max(LOG_BATCH_MAX)
        .refine(
          (lines) => new Set(lines.map((l) => l.id)).size === lines.length,
          'log line ids repeat within the batch',
        ),
      dropped: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER),
    }),
  ]),
  listLogs: z.tuple([z.object({ ownerId: Id, agentId: Id }).extend(PageArgs.shape)]),
  listLogsAfter: z.tuple([
    z.object({
      ownerId: Id,
      agentId: Id,
      after: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER),
      limit: z.number().int().min(1).max(1000),
    }),
  ]),
  deleteLogsBefore: z.tuple([z.object({ tier: Tier, cutoff: Instant, limit: z.number().int().min(1).max(10_000) })]),
};
