import { Bar, BarChart, CartesianGrid, ResponsiveContainer, Tooltip, XAxis, YAxis } from 'recharts';
import type { Bar as BarRow } from './shape.js';

/** One horizontal bar chart of requests (recharts, in this lazily loaded chunk). */
export default function UsageChart({ title, rows }: { title: string; rows: BarRow[] }) {
  return (
    <figure aria-label={title} className="rounded-md border border-slate-100 p-2">
      <figcaption className="mb-1 text-sm font-medium text-slate-700">{title}</figcaption>
      <div style={{ height: Math.max(80, rows.length * 32 + 40) }}>
        <ResponsiveContainer width="100%" height="100%">
          <BarChart data={rows} layout="vertical" margin={{ left: 16 }}>
            <CartesianGrid strokeDasharray="3 3" horizontal={false} />
            <XAxis type="number" fontSize={11} allowDecimals={false} />
            <YAxis type="category" dataKey="name" fontSize={11} width={110} />
            <Tooltip />
            <Bar dataKey="requests" fill="#4f46e5" isAnimationActive={false} />
            <Bar dataKey="errors" fill="#dc2626" isAnimationActive={false} />
          </BarChart>
        </ResponsiveContainer>
      </div>
    </figure>
  );
}
