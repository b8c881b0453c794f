import { lazy, Suspense, useState } from 'react';
import { useUsage } from '../agents/queries.js';
import { Card, Empty, ErrorNotice, formatNumber, Loading, Select } from '../../ui/primitives.js';
import { limitUsed, recentPeriods, usageCharts } from './shape.js';

const UsageChart = lazy(() => import('./UsageCharts.js'));

/** The billing period's totals with the estimated cost and the limit, and charts by agent, runtime and end user. */
export default function UsagePage() {
  const periods = recentPeriods(new Date());
  const [period, setPeriod] = useState(periods[0]!);
  const usage = useUsage(period);
  return (
    <div className="flex flex-col gap-4">
      <div className="flex items-end justify-between">
        <h1 className="text-2xl font-semibold">Usage</h1>
        <Select label="Billing period" value={period} onChange={(e) => setPeriod(e.target.value)}>
          {periods.map((p) => (
            <option key={p}>{p}</option>
          ))}
        </Select>
      </div>
      {usage.isPending ? (
        <Loading what="usage" />
      ) : usage.error ? (
        <ErrorNotice error={usage.error} retry={() => void usage.refetch()} />
      ) : (
        <UsageReportView report={usage.data} />
      )}
    </div>
  );
}

function UsageReportView({ report }: { report: Parameters<typeof usageCharts>[0] }) {
  const t = report.totals;
  const used = limitUsed(t.requests, report.limit);
  const charts = usageCharts(report);
  const stats: [string, string][] = [
    ['Requests', formatNumber(t.requests)],
    ['Errors', formatNumber(t.errors)],
    ['Tokens', formatNumber(t.inputTokens + t.outputTokens)],
    ['Compute', `${formatNumber(Math.round(t.computeMs))} ms`],
    ['Estimated cost', `$${t.costUsd.toFixed(4)}`],
  ];
  return (
    <>
      <Card title={`Period ${report.period} (${report.status})`}>
        <dl className="grid grid-cols-2 gap-4 sm:grid-cols-5">
          {stats.map(([k, v]) => (
            <div key={k}>
              <dt className="text-xs text-slate-500">{k}</dt>
              <dd className="text-lg font-semibold" aria-label={k}>
                {v}
              </dd>
            </div>
          ))}
        </dl>
        <div className="mt-4">
          <p className="text-sm text-slate-700">
            {report.limit === null
              ? 'No request limit on this tier.'
              : `${formatNumber(t.requests)} of ${formatNumber(report.limit)} requests this period`}
          </p>
          {used !== null ? (
            <div
              role="meter"
              aria-label="Requests against the limit"
              aria-valuemin={0}
              aria-valuemax={report.limit ?? 0}
              aria-valuenow={t.requests}
              className="mt-1 h-2 w-full rounded bg-slate-200"
            >
              <div
                className={`h-full rounded ${used > 0.9 ? 'bg-red-500' : 'bg-indigo-500'}`}
                style={{ width: `${Math.max(used * 100, t.requests ? 1 : 0)}%` }}
              />
            </div>
          ) : null}
        </div>
      </Card>
      {t.requests === 0 ? (
        <Empty title="No requests in this period">Invoke an agent and it shows here within a few seconds.</Empty>
      ) : (
        <Suspense fallback={<Loading what="charts" />}>
          <div className="grid gap-4 lg:grid-cols-3">
            <UsageChart title="By agent" rows={charts.byAgent} />
            <UsageChart title="By runtime" rows={charts.byRuntime} />
            {charts.byEndUser.length ? (
              <UsageChart title="By end user" rows={charts.byEndUser} />
            ) : (
              <Empty title="No end users">Send x-webhost-end-user with invokes to attribute them.</Empty>
            )}
          </div>
        </Suspense>
      )}
      <Card title="By agent">
        <table className="w-full text-left text-sm">
          <caption className="sr-only">Usage by agent</caption>
          <thead className="text-xs text-slate-500">
            <tr>
              <th className="py-1">Agent</th>
              <th>Runtime</th>
              <th>Requests</th>
              <th>Errors</th>
              <th>Tokens</th>
              <th>Estimated cost</th>
            </tr>
          </thead>
          <tbody>
            {report.byAgent.length === 0 ? (
              <tr>
                <td colSpan={6} className="py-3 text-slate-500">
                  No agent was invoked in this period.
                </td>
              </tr>
            ) : (
              report.byAgent.map((a) => (
                <tr key={`${a.agentId}-${a.runtime}`} className="border-t border-slate-100">
                  <td className="py-2">{a.name ?? `${a.agentId} (deleted)`}</td>
                  <td>{a.runtime}</td>
                  <td>{formatNumber(a.requests)}</td>
                  <td>{formatNumber(a.errors)}</td>
                  <td>{formatNumber(a.inputTokens + a.outputTokens)}</td>
                  <td>${a.costUsd.toFixed(4)}</td>
                </tr>
              ))
            )}
          </tbody>
        </table>
      </Card>
    </>
  );
}
