import { z } from 'zod';
import {
  Id,
  Period,
  TELEMETRY_BATCH_MAX,
  TelemetryEvent,
  Tier,
  type HourlyMetric,
  type Page,
  type PageQuery,
  type PeriodUsage,
  type StoredTelemetryEvent,
} from '../../contracts/index.js';
import { Instant, PageArgs, type Rules } from './rules.js';

/** Telemetry and usage: raw events, counted once into hourly metrics and period usage. */
export interface UsageStore {
  /**
   * Stores a batch of a deployment's events and adds each new one, once, to the agent's
   * hourly metrics and the owner's usage for the event's period and runtime — in one
   * transaction. Event ids already stored are counted as duplicates and change nothing.
   */
  ingestTelemetry(input: IngestTelemetryInput): Promise<{ accepted: number; duplicates: number }>;
  /** Newest first. */
  listTelemetryEvents(input: { ownerId: string; agentId: string } & PageQuery): Promise<Page<StoredTelemetryEvent>>;
  /** Hourly metrics of an agent for hours starting in [from, to). */
  listHourlyMetrics(input: { ownerId: string; agentId: string; from: Date; to: Date }): Promise<HourlyMetric[]>;
  /** One row per runtime used in the period. */
  getUsage(input: { ownerId: string; period: Period }): Promise<PeriodUsage[]>;
  /**
   * Retention: deletes at most `limit` raw events, of owners on `tier`, that happened before
   * `cutoff`. Aggregates are kept. Call again until it deletes fewer than `limit`.
   */
  deleteTelemetryBefore(input: { tier: Tier; cutoff: Date; limit: number }): Promise<{ deleted: number }>;
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

export const usageRules: Rules<UsageStore> = {
  ingestTelemetry: z.tuple([z.object({ ownerId: Id, agentId: Id, deploymentId: Id, events: Events })]),
  listTelemetryEvents: z.tuple([z.object({ ownerId: Id, agentId: Id }).extend(PageArgs.shape)]),
  listHourlyMetrics: z.tuple([z.object({ ownerId: Id, agentId: Id, from: Instant, to: Instant })]),
  getUsage: z.tuple([z.object({ ownerId: Id, period: Period })]),
  deleteTelemetryBefore: z.tuple([
    z.object({ tier: Tier, cutoff: Instant, limit: z.number().int().min(1).max(10_000) }),
  ]),
};
