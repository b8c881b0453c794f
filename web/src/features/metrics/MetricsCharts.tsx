import { Bar, BarChart, CartesianGrid, Line, LineChart, ResponsiveContainer, Tooltip, XAxis, YAxis } from 'recharts';
import type { HourPoint } from './shape.js';

const charts = [
  { key: 'requests', title: 'Requests per hour', color: '#4f46e5', kind: 'bar' },
  { key: 'errors', title: 'Errors per hour', color: '#dc2626', kind: 'bar' },
  { key: 'avgLatencyMs', title: 'Average latency (ms)', color: '#0891b2', kind: 'line' },
  { key: 'tokens', title: 'Tokens per hour', color: '#7c3aed', kind: 'bar' },
] as const;

/** The agent's four hourly charts (recharts, loaded with this chunk only). */
export default function MetricsCharts({ series }: { series: HourPoint[] }) {
  return (
    <div className="grid gap-4 md:grid-cols-2">
      {charts.map((c) => (
        <figure key={c.key} aria-label={c.title} className="rounded-md border border-slate-100 p-2">
          <figcaption className="mb-1 text-sm font-medium text-slate-700">{c.title}</figcaption>
          <div className="h-40">
            <ResponsiveContainer width="100%" height="100%">
              {c.kind === 'bar' ? (
                <BarChart data={series}>
                  <CartesianGrid strokeDasharray="3 3" vertical={false} />
                  <XAxis dataKey="label" fontSize={11} interval="preserveStartEnd" />
                  <YAxis fontSize={11} allowDecimals={false} width={40} />
                  <Tooltip />
                  <Bar dataKey={c.key} fill={c.color} isAnimationActive={false} />
                </BarChart>
              ) : (
                <LineChart data={series}>
                  <CartesianGrid strokeDasharray="3 3" vertical={false} />
                  <XAxis dataKey="label" fontSize={11} interval="preserveStartEnd" />
                  <YAxis fontSize={11} width={40} />
                  <Tooltip />
                  <Line dataKey={c.key} stroke={c.color} dot={{ r: 2 }} connectNulls isAnimationActive={false} />
                </LineChart>
              )}
            </ResponsiveContainer>
          </div>
        </figure>
      ))}
    </div>
  );
}
