import { z } from 'zod';
import {
  EndUser,
  Id,
  Period,
  Runtime,
  TELEMETRY_BATCH_MAX,
  TelemetryEvent,
  Tier,
  type EndUserUsage,
  type HourlyMetric,
  type MeteredRequest,
  type Page,
  type PageQuery,
  type PeriodUsage,
  type StoredUsageEvent,
  type UsageTotals,
} from '../../contracts/index.js';
import { Instant, PageArgs, Short, type Rules } from './rules.js';

/**
 * Usage: raw events (the gateway's requests, the shim's telemetry), each counted once — by
 * its id, per deployment — into the agent's hourly metrics, the owner's usage per period and
 * runtime, and the owner's usage per end user, in the transaction that stores it.
 */
export interface UsageStore {
  /** The gateway's metered requests, from any owners; ids already stored change nothing. */
  recordRequests(events: MeteredRequest[]): Promise<{ accepted: number; duplicates: number }>;
  /**
   * A deployment's signed telemetry batch, once the deployment is known to be the agent's and
   * the owner's (else `not_found`, and nothing is stored). Ids already stored change nothing.
   */
  ingestTelemetry(input: IngestTelemetryInput): Promise<{ accepted: number; duplicates: number }>;
  /** Newest first. */
  listUsageEvents(input: { ownerId: string; agentId: string } & PageQuery): Promise<Page<StoredUsageEvent>>;
  /** Hourly metrics of an agent for hours starting in [from, to), one row per hour and runtime. */
  listHourlyMetrics(input: { ownerId: string; agentId: string; from: Date; to: Date }): Promise<HourlyMetric[]>;
  /** One row per runtime used in the period. */
  getUsage(input: { ownerId: string; period: Period }): Promise<PeriodUsage[]>;
  /** The period's totals per agent (deleted agents included), summed from hourly metrics. */
  getUsageByAgent(input: { ownerId: string; period: Period }): Promise<AgentUsage[]>;
  /** The period's end users with the most requests, at most `limit`. */
  getUsageByEndUser(input: { ownerId: string; period: Period; limit: number }): Promise<EndUserUsage[]>;
  /**
   * Retention: deletes at most `limit` raw events, of owners on `tier`, that happened before
   * `cutoff`. Aggregates are kept. Call again until it deletes fewer than `limit`.
   */
  deleteTelemetryBefore(input: { tier: Tier; cutoff: Date; limit: number }): Promise<{ deleted: number }>;
}

export interface AgentUsage extends UsageTotals {
  agentId: string;
  runtime: Runtime;
}

export interface IngestTelemetryInput {
  ownerId: string;
  agentId: string;
  deploymentId: string;
  events: TelemetryEvent[];
}

const Events = z
  .array(TelemetryEvent)
  .min(1)
  .max(TELEMETRY_BATCH_MAX)
  .refine((events) => new Set(events.map((e) => e.id)).size === events.length, 'event ids repeat within the batch');

const Count = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);
const MeteredRequestArg = z.object({
  id: Short(128),
  at: z.iso.datetime(),
  ownerId: Id,
  agentId: Id,
  deploymentId: Id,
  runtime: Runtime,
  status: z.number().int().min(100).max(599),
  durationMs: z.number().nonnegative(),
  inputBytes: Count,
  outputBytes: Count,
  inputTokens: Count,
  outputTokens: Count,
  sessionId: Short(256).nullable(),
  endUser: EndUser.nullable(),
  apiKeyId: Id.nullable(),
});

export const usageRules: Rules<UsageStore> = {
  recordRequests: z.tuple([
    z
      .array(MeteredRequestArg)
      .min(1)
      .max(TELEMETRY_BATCH_MAX)
      .refine(
        (events) => new Set(events.map((e) => `${e.deploymentId}/${e.id}`)).size === events.length,
        'event ids repeat within the batch',
      ),
  ]),
  ingestTelemetry: z.tuple([z.object({ ownerId: Id, agentId: Id, deploymentId: Id, events: Events })]),
  listUsageEvents: z.tuple([z.object({ ownerId: Id, agentId: Id }).extend(PageArgs.shape)]),
  listHourlyMetrics: z.tuple([z.object({ ownerId: Id, agentId: Id, from: Instant, to: Instant })]),
  getUsage: z.tuple([z.object({ ownerId: Id, period: Period })]),
  getUsageByAgent: z.tuple([z.object({ ownerId: Id, period: Period })]),
  getUsageByEndUser: z.tuple([z.object({ ownerId: Id, period: Period, limit: z.number().int().min(1).max(1000) })]),
  deleteTelemetryBefore: z.tuple([
    z.object({ tier: Tier, cutoff: Instant, limit: z.number().int().min(1).max(10_000) }),
  ]),
};
