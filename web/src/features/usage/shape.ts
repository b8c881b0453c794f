import type { UsageReport } from '../../../../lib/contracts/usage.js';

export interface Bar {
  name: string;
  requests: number;
  errors: number;
  tokens: number;
  costUsd: number | null;
}

/** Bars shown per chart; the rest are summed into one "others" bar. */
export const MAX_BARS = 8;

/** Largest first (by requests), at most `max` bars, the tail summed as "N others". */
export function topBars(rows: Bar[], max = MAX_BARS): Bar[] {
  const sorted = [...rows].sort((a, b) => b.requests - a.requests || a.name.localeCompare(b.name));
  if (sorted.length <= max) return sorted;
  const head = sorted.slice(0, max - 1);
  const tail = sorted.slice(max - 1);
  const cost = tail.every((r) => r.costUsd !== null) ? tail.reduce((n, r) => n + (r.costUsd ?? 0), 0) : null;
  return [
    ...head,
    {
      name: `${tail.length} others`,
      requests: tail.reduce((n, r) => n + r.requests, 0),
      errors: tail.reduce((n, r) => n + r.errors, 0),
      tokens: tail.reduce((n, r) => n + r.tokens, 0),
      costUsd: cost === null ? null : Math.round(cost * 1e4) / 1e4,
    },
  ];
}

/** The usage report as the three charts' bars: by agent (deleted ones named by id), by runtime, by end user. */
export function usageCharts(report: UsageReport): { byAgent: Bar[]; byRuntime: Bar[]; byEndUser: Bar[] } {
  return {
    byAgent: topBars(
      report.byAgent.map((a) => ({
        name: a.name ?? `${a.agentId} (deleted)`,
        requests: a.requests,
        errors: a.errors,
        tokens: a.inputTokens + a.outputTokens,
        costUsd: a.costUsd,
      })),
    ),
    byRuntime: topBars(
      report.byRuntime.map((r) => ({
        name: r.runtime,
        requests: r.requests,
        errors: r.errors,
        tokens: r.inputTokens + r.outputTokens,
        costUsd: r.costUsd,
      })),
    ),
    byEndUser: topBars(
      report.byEndUser.map((u) => ({
        name: u.endUser,
        requests: u.requests,
        errors: u.errors,
        tokens: u.inputTokens + u.outputTokens,
        costUsd: null,
      })),
    ),
  };
}

/** How much of the period's request limit is used, 0..1 (null: no limit). */
export const limitUsed = (requests: number, limit: number | null) => (limit ? Math.min(requests / limit, 1) : null);

/** The last `n` billing periods (UTC months), newest first. */
export function recentPeriods(now: Date, n = 6): string[] {
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const d = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - i, 1));
    out.push(d.toISOString().slice(0, 7));
  }
  return out;
}
