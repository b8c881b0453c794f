import { lazy, Suspense, useMemo, useState } from 'react';
import { useQuery } from '@tanstack/react-query';
import { useClients } from '../../app/api.js';
import { unwrap } from '../../app/errors.js';
import { qk } from '../../app/query-keys.js';
import { Button, Card, Empty, ErrorNotice, Loading } from '../../ui/primitives.js';
import { hourlySeries } from './shape.js';

const MetricsCharts = lazy(() => import('./MetricsCharts.js'));

/** The agent's hourly metrics over the last 24 hours (or 7 days). */
export function MetricsPanel({ agentId }: { agentId: string }) {
  const { api } = useClients();
  const [hours, setHours] = useState(24);
  // the window is fixed when chosen, so the query key is stable between renders
  const [to, setTo] = useState(() => new Date());
  const from = useMemo(() => new Date(to.getTime() - hours * 3_600_000), [to, hours]);
  const metrics = useQuery({
    queryKey: qk.metrics(agentId, `${hours}h@${to.toISOString()}`),
    queryFn: () =>
      unwrap(
        api.v1.agents[':agentId'].metrics.$get({
          param: { agentId },
          query: { from: from.toISOString(), to: to.toISOString() },
        }),
      ),
  });
  const series = useMemo(
    () => (metrics.data ? hourlySeries(metrics.data.items, from, to) : []),
    [metrics.data, from, to],
  );
  const any = series.some((p) => p.requests > 0);
  return (
    <Card
      title="Metrics"
      actions={
        <div className="flex gap-1">
          {[24, 168].map((h) => (
            <Button
              key={h}
              variant={h === hours ? 'primary' : 'secondary'}
              aria-pressed={h === hours}
              onClick={() => {
                setHours(h);
                setTo(new Date());
              }}
            >
              {h === 24 ? '24 h' : '7 days'}
            </Button>
          ))}
          <Button variant="ghost" onClick={() => setTo(new Date())}>
            Refresh
          </Button>
        </div>
      }
    >
      {metrics.isPending ? (
        <Loading what="metrics" />
      ) : metrics.error ? (
        <ErrorNotice error={metrics.error} retry={() => void metrics.refetch()} />
      ) : !any ? (
        <Empty title="No traffic in this window">
          Invoke the agent (the playground will do) and its hours fill in.
        </Empty>
      ) : (
        <Suspense fallback={<Loading what="charts" />}>
          <MetricsCharts series={series} />
        </Suspense>
      )}
    </Card>
  );
}
