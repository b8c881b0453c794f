import { z } from 'zod';
import type { Runtime } from './common.js';

/** One invocation as the runtime shim reports it; `id` makes it count once. */
export const TelemetryEvent = z.strictObject({
  id: z.string().min(1).max(128),
  at: z.iso.datetime(),
  kind: z.literal('request'),
  ok: z.boolean(),
  durationMs: z
    .number()
    .nonnegative()
    .max(24 * 3600 * 1000),
  inputBytes: z.number().int().nonnegative(),
  outputBytes: z.number().int().nonnegative(),
});
export type TelemetryEvent = z.infer<typeof TelemetryEvent>;

export const TELEMETRY_BATCH_MAX = 1000;

export interface UsageTotals {
  requests: number;
  errors: number;
  durationMs: number;
  inputBytes: number;
  outputBytes: number;
}

export interface HourlyMetric extends UsageTotals {
  agentId: string;
  /** Start of the UTC hour, ISO. */
  hour: string;
}

/** A billing period is a UTC calendar month: `2026-11`. */
export const Period = z.string().regex(/^\d{4}-(0[1-9]|1[0-2])$/, 'a UTC month like 2026-11');
export type Period = z.infer<typeof Period>;
export const periodOf = (at: Date): Period => at.toISOString().slice(0, 7);

export interface PeriodUsage extends UsageTotals {
  ownerId: string;
  period: Period;
  runtime: Runtime;
}

export interface BillingPeriod {
  ownerId: string;
  period: Period;
  status: 'open' | 'closed';
  totals: UsageTotals | null;
  usageReportId: string | null;
  closedAt: string | null;
}

export interface StoredTelemetryEvent extends TelemetryEvent {
  agentId: string;
  deploymentId: string;
}
