import { convexQuery } from '@convex-dev/react-query';
import { skipToken, useQuery } from '@tanstack/react-query';
import { useClients } from '../../app/api.js';
import { convexApi, convexOnly, FIRST_PAGE, fromConvexPage, useMode } from '../../app/backend.js';
import { unwrap } from '../../app/errors.js';
import { qk } from '../../app/query-keys.js';
import { Card, Empty, ErrorNotice, formatTime, Loading } from '../../ui/primitives.js';

const detailsText = (d: unknown) =>
  d === null || d === undefined ? '' : typeof d === 'string' ? d : JSON.stringify(d);

/** The owner's audit log, newest first. */
export default function AuditPage() {
  const { api } = useClients();
  const convex = useMode() === 'convex';
  const rest = useQuery({
    queryKey: qk.audit(),
    queryFn: convex ? skipToken : () => unwrap(api.v1.audit.$get({ query: { limit: '100' } })),
  });
  const live = useQuery({
    ...convexQuery(convexApi.dashboard.audit, { paginationOpts: FIRST_PAGE }),
    ...convexOnly(convex),
    select: fromConvexPage,
  });
  const audit = convex ? live : rest;
  return (
    <div className="flex flex-col gap-4">
      <h1 className="text-2xl font-semibold">Audit log</h1>
      <Card>
        {audit.isPending ? (
          <Loading what="audit log" />
        ) : audit.error ? (
          <ErrorNotice error={audit.error} retry={() => void audit.refetch()} />
        ) : audit.data.items.length === 0 ? (
          <Empty title="Nothing yet">
            Deploys, rollbacks, secret changes, keys and tier changes are recorded here.
          </Empty>
        ) : (
          <table className="w-full text-left text-sm">
            <caption className="sr-only">Audit log</caption>
            <thead className="text-xs text-slate-500">
              <tr>
                <th className="py-1">When</th>
                <th>Action</th>
                <th>Target</th>
                <th>Actor</th>
                <th>Details</th>
              </tr>
            </thead>
            <tbody>
              {audit.data.items.map((a) => (
                <tr key={a.id} className="border-t border-slate-100 align-top">
                  <td className="py-2 whitespace-nowrap">{formatTime(a.at)}</td>
                  <td className="font-mono">{a.action}</td>
                  <td className="font-mono text-xs">
                    {a.targetType} {a.targetId}
                  </td>
                  <td className="text-xs">{a.actor}</td>
                  <td className="max-w-md truncate font-mono text-xs text-slate-500">{detailsText(a.details)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Card>
    </div>
  );
}
