import { z } from 'zod';
import type { Runtime } from './common.js';

// Usage: what the platform meters, where each figure comes from, and what it costs.
//
// Two sources, one quantity each, so nothing is counted twice:
// - the gateway sees every invoke: one `request` event per invoke, its id the request id —
//   requests, errors (the answer's status), latency (durationMs), bytes, and the tokens the
//   agent reported in its answer (a `usage` field in its JSON or SSE);
// - the shim inside the agent sees what the gateway cannot: `invocation` events (compute time
//   of each call) and `background` events (work after the answer: `waitUntil`, alarms,
//   queues — compute, errors and tokens). An invocation's tokens are the gateway's to count.

/** Tokens the agent reports; the AI SDK's `usage` shape (`inputTokens`/`outputTokens`, or `promptTokens`/`completionTokens`) is read into this. */
export const TokenCounts = z.object({
  inputTokens: z.number().int().nonnegative().max(1e9),
  outputTokens: z.number().int().nonnegative().max(1e9),
});
export type TokenCounts = z.infer<typeof TokenCounts>;

/** One event as the shim signs and posts it (`POST /v1/telemetry`); `id` makes it count once. */
export const TelemetryEvent = z.strictObject({
  id: z.string().min(1).max(128),
  at: z.iso.datetime(),
  kind: z.enum(['invocation', 'background']),
  ok: z.boolean(),
  computeMs: z
    .number()
    .nonnegative()
    .max(24 * 3600 * 1000),
  /** Counted for `background` events only (an invocation's tokens come with its answer). */
  inputTokens: z.number().int().nonnegative().max(1e9).optional(),
  outputTokens: z.number().int().nonnegative().max(1e9).optional(),
  /** The gateway's request id, for an invocation. */
  requestId: z.string().max(64).optional(),
});
export type TelemetryEvent = z.infer<typeof TelemetryEvent>;

/** Events in one signed batch. */
export const TELEMETRY_BATCH_MAX = 1000;
/** A signed batch's body, at most. */
export const TELEMETRY_MAX_BODY_BYTES = 256 * 1024;
/** How far a batch's timestamp may be from the api's clock. */
export const TELEMETRY_WINDOW_S = 300;

/** `x-webhost-end-user`: the caller's own end user, opaque to the platform. */
export const EndUser = z.string().min(1).max(128);
export const END_USER_HEADER = 'x-webhost-end-user';

/** One invoke as the gateway meters it. */
export interface MeteredRequest {
  /** The request id. */
  id: string;
  at: string;
  ownerId: string;
  agentId: string;
  deploymentId: string;
  runtime: Runtime;
  /** The HTTP status the caller got (499 when the caller left). */
  status: number;
  durationMs: number;
  inputBytes: number;
  outputBytes: number;
  inputTokens: number;
  outputTokens: number;
  sessionId: string | null;
  endUser: string | null;
  /** The API key that made the call, when one did. */
  apiKeyId: string | null;
}

export const EventKind = z.enum(['request', 'invocation', 'background']);
export type EventKind = z.infer<typeof EventKind>;

/** A raw event as kept (per the owner's tier retention). */
export interface StoredUsageEvent {
  id: string;
  agentId: string;
  deploymentId: string;
  runtime: Runtime;
  at: string;
  kind: EventKind;
  ok: boolean;
  status: number | null;
  durationMs: number;
  computeMs: number;
  inputBytes: number;
  outputBytes: number;
  inputTokens: number;
  outputTokens: number;
  sessionId: string | null;
  endUser: string | null;
}

export interface UsageTotals {
  requests: number;
  errors: number;
  /** Summed gateway latency of the requests (average = durationMs / requests). */
  durationMs: number;
  computeMs: number;
  inputBytes: number;
  outputBytes: number;
  inputTokens: number;
  outputTokens: number;
}

export const zeroTotals = (): UsageTotals => ({
  requests: 0,
  errors: 0,
  durationMs: 0,
  computeMs: 0,
  inputBytes: 0,
  outputBytes: 0,
  inputTokens: 0,
  outputTokens: 0,
});

export function addTotals(into: UsageTotals, more: UsageTotals): UsageTotals {
  for (const k of Object.keys(into) as (keyof UsageTotals)[]) into[k] += more[k];
  return into;
}

/** What one event adds to the aggregates, by the one-source-per-quantity rule above. */
export function totalsOfEvent(e: {
  kind: EventKind;
  ok: boolean;
  durationMs: number;
  computeMs: number;
  inputBytes: number;
  outputBytes: number;
  inputTokens: number;
  outputTokens: number;
}): UsageTotals {
  const request = e.kind === 'request';
  const countsTokens = e.kind !== 'invocation';
  return {
    requests: request ? 1 : 0,
    errors: e.ok || e.kind === 'invocation' ? 0 : 1,
    durationMs: request ? e.durationMs : 0,
    computeMs: request ? 0 : e.computeMs,
    inputBytes: request ? e.inputBytes : 0,
    outputBytes: request ? e.outputBytes : 0,
    inputTokens: countsTokens ? e.inputTokens : 0,
    outputTokens: countsTokens ? e.outputTokens : 0,
  };
}

export interface HourlyMetric extends UsageTotals {
  agentId: string;
  runtime: Runtime;
  /** Start of the UTC hour, ISO. */
  hour: string;
}

/** A billing period is a UTC calendar month: `2026-11`. */
export const Period = z.string().regex(/^\d{4}-(0[1-9]|1[0-2])$/, 'a UTC month like 2026-11');
export type Period = z.infer<typeof Period>;
export const periodOf = (at: Date): Period => at.toISOString().slice(0, 7);
/** When a period begins and when the next one does (UTC). */
export function periodBounds(period: Period): { start: Date; end: Date } {
  const [y, m] = period.split('-').map(Number) as [number, number];
  return { start: new Date(Date.UTC(y, m - 1, 1)), end: new Date(Date.UTC(y, m, 1)) };
}

export interface PeriodUsage extends UsageTotals {
  ownerId: string;
  period: Period;
  runtime: Runtime;
}

export interface EndUserUsage {
  endUser: string;
  requests: number;
  errors: number;
  inputTokens: number;
  outputTokens: number;
}

export interface BillingPeriod {
  ownerId: string;
  period: Period;
  status: 'open' | 'closed';
  totals: UsageTotals | null;
  costUsd: number | null;
  usageReportId: string | null;
  closedAt: string | null;
}

/**
 * The price table (estimates shown to users and reported at period close), one row per
 * runtime: US dollars per million requests and per million compute milliseconds. Tokens are
 * the model provider's to bill and are not priced here.
 */
export const PRICES: Record<Runtime, { perMillionRequests: number; perMillionComputeMs: number }> = {
  local: { perMillionRequests: 0.2, perMillionComputeMs: 0.01 },
  cloudflare: { perMillionRequests: 0.3, perMillionComputeMs: 0.02 },
  agentcore: { perMillionRequests: 0.3, perMillionComputeMs: 0.025 },
};

/** Estimated cost in US dollars, rounded to the cent's hundredth. */
export function estimateCostUsd(runtime: Runtime, t: Pick<UsageTotals, 'requests' | 'computeMs'>): number {
  const p = PRICES[runtime];
  return (
    Math.round(((t.requests / 1e6) * p.perMillionRequests + (t.computeMs / 1e6) * p.perMillionComputeMs) * 1e4) / 1e4
  );
}

/** `GET /v1/usage?period=`: the query. */
export const UsageQuery = z.object({ period: Period.optional() });

/** A line of a usage report: totals and their estimated cost. */
export type CostedTotals = UsageTotals & { costUsd: number };

/** `GET /v1/usage?period=YYYY-MM`. */
export interface UsageReport {
  period: Period;
  status: 'open' | 'closed';
  /** The tier's requests per period; null when unlimited. */
  limit: number | null;
  totals: CostedTotals;
  byRuntime: (CostedTotals & { runtime: Runtime })[];
  byAgent: (CostedTotals & { agentId: string; name: string | null; runtime: Runtime })[];
  /** The end users (`x-webhost-end-user`) with the most requests, at most 100. */
  byEndUser: EndUserUsage[];
}

/** `GET /v1/agents/:id/metrics?from=&to=`: ISO instants; the last 24 hours by default, at most 31 days. */
export const MetricsQuery = z
  .object({ from: z.iso.datetime().optional(), to: z.iso.datetime().optional() })
  .transform(({ from, to }, ctx) => {
    const end = to ? new Date(to) : new Date();
    const start = from ? new Date(from) : new Date(end.getTime() - 24 * 3_600_000);
    if (start >= end) ctx.addIssue({ code: 'custom', message: 'from must be before to' });
    if (end.getTime() - start.getTime() > 31 * 24 * 3_600_000)
      ctx.addIssue({ code: 'custom', message: 'at most 31 days at a time' });
    return { from: start, to: end };
  });

/** One hour of an agent's metrics, as `GET /v1/agents/:id/metrics` answers it. */
export interface MetricPoint extends UsageTotals {
  hour: string;
  /** Average gateway latency of the hour's requests, ms; null without requests. */
  avgLatencyMs: number | null;
}
