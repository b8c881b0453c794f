/** One hour on the agent's charts; hours without traffic are zeros, not gaps. */
export interface HourPoint {
  hour: string;
  label: string;
  requests: number;
  errors: number;
  avgLatencyMs: number | null;
  tokens: number;
}

interface MetricIn {
  hour: string;
  requests: number;
  errors: number;
  avgLatencyMs: number | null;
  inputTokens: number;
  outputTokens: number;
}

const HOUR = 3_600_000;
const floorHour = (t: number) => Math.floor(t / HOUR) * HOUR;

/**
 * The api's hourly points (only hours with traffic, unordered) as a continuous series from
 * `from` to `to`: every hour present, oldest first, tokens in and out summed.
 */
export function hourlySeries(items: readonly MetricIn[], from: Date, to: Date): HourPoint[] {
  const byHour = new Map(items.map((p) => [floorHour(new Date(p.hour).getTime()), p]));
  const out: HourPoint[] = [];
  for (let t = floorHour(from.getTime()); t <= floorHour(to.getTime()); t += HOUR) {
    const p = byHour.get(t);
    const d = new Date(t);
    out.push({
      hour: d.toISOString(),
      label: `${String(d.getHours()).padStart(2, '0')}:00`,
      requests: p?.requests ?? 0,
      errors: p?.errors ?? 0,
      avgLatencyMs: p?.avgLatencyMs ?? null,
      tokens: p ? p.inputTokens + p.outputTokens : 0,
    });
  }
  return out;
}
