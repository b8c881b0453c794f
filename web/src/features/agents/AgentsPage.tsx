import { Link } from '../../ui/Link.js';
import { Card, Empty, ErrorNotice, formatNumber, Loading, relativeTime, StatusBadge } from '../../ui/primitives.js';
import { useDeployments } from '../deployments/queries.js';
import { CreateAgentDialog } from './CreateAgentDialog.js';
import { useAgents, useUsage } from './queries.js';
import { requestsByAgent } from './runtimes.js';

/** Agents: runtime, status, active deployment, last deploy, requests this period. */
export default function AgentsPage() {
  const agents = useAgents();
  const usage = useUsage();
  const requests = requestsByAgent(usage.data?.byAgent ?? []);
  return (
    <div className="flex flex-col gap-4">
      <div className="flex items-center justify-between">
        <h1 className="text-2xl font-semibold">Agents</h1>
        <CreateAgentDialog />
      </div>
      <Card>
        {agents.isPending ? (
          <Loading what="agents" />
        ) : agents.error ? (
          <ErrorNotice error={agents.error} retry={() => void agents.refetch()} />
        ) : agents.data.items.length === 0 ? (
          <Empty title="No agents yet">Create one, then deploy it from a folder or git.</Empty>
        ) : (
          <table className="w-full text-left text-sm">
            <caption className="sr-only">Agents</caption>
            <thead className="text-xs text-slate-500">
              <tr>
                <th className="py-1">Name</th>
                <th>Runtime</th>
                <th>Status</th>
                <th>Active deployment</th>
                <th>Last deploy</th>
                <th>Requests this period</th>
              </tr>
            </thead>
            <tbody>
              {agents.data.items.map((a) => (
                <tr key={a.id} className="border-t border-slate-100">
                  <td className="py-2">
                    <Link href={`/agents/${a.id}`} className="font-medium text-indigo-700 hover:underline">
                      {a.name}
                    </Link>
                  </td>
                  <td>{a.runtime}</td>
                  <td>
                    <StatusBadge status={a.pausedAt ? 'paused' : a.status} />
                  </td>
                  <LastDeploy agentId={a.id} activeDeploymentId={a.activeDeploymentId} />
                  <td>{usage.isPending ? '…' : formatNumber(requests.get(a.id) ?? 0)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Card>
    </div>
  );
}

/** The active deployment's version and the newest deploy, from the agent's latest deployments. */
function LastDeploy({ agentId, activeDeploymentId }: { agentId: string; activeDeploymentId: string | null }) {
  const deployments = useDeployments(agentId, 5);
  const items = deployments.data?.items ?? [];
  const latest = items[0];
  const active = items.find((d) => d.id === activeDeploymentId);
  return (
    <>
      <td>
        {activeDeploymentId ? (
          active ? (
            `v${active.version}`
          ) : (
            <code className="text-xs">{activeDeploymentId}</code>
          )
        ) : (
          'none'
        )}
      </td>
      <td>
        {latest ? (
          <span className="flex items-center gap-1">
            <StatusBadge status={latest.status} /> {relativeTime(latest.createdAt)}
          </span>
        ) : deployments.isPending ? (
          '…'
        ) : (
          'never'
        )}
      </td>
    </>
  );
}
