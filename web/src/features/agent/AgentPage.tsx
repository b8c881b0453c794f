import * as Tabs from '@radix-ui/react-tabs';
import { ApiKeysPanel } from '../api-keys/ApiKeysPanel.js';
import { useAgent } from '../agents/queries.js';
import { DeploymentsPanel } from '../deployments/DeploymentsPanel.js';
import { LogsPanel } from '../logs/LogsPanel.js';
import { MetricsPanel } from '../metrics/MetricsPanel.js';
import { Playground } from '../playground/Playground.js';
import { SecretsPanel } from '../secrets/SecretsPanel.js';
import { Link } from '../../ui/Link.js';
import { ErrorNotice, Loading, StatusBadge } from '../../ui/primitives.js';
import { navigate } from '../../ui/router.js';

const TABS = [
  ['deployments', 'Deployments'],
  ['secrets', 'Secrets'],
  ['api-keys', 'API keys'],
  ['playground', 'Playground'],
  ['metrics', 'Metrics'],
  ['logs', 'Logs'],
] as const;

const tabClass =
  'border-b-2 px-3 py-2 text-sm data-[state=active]:border-indigo-600 data-[state=active]:font-semibold data-[state=inactive]:border-transparent data-[state=inactive]:text-slate-600 hover:text-slate-900';

/** One agent: its deployments with live steps, secrets, API keys, playground, metrics and logs, a tab each. */
export default function AgentPage({ agentId, tab }: { agentId: string; tab: string }) {
  const agent = useAgent(agentId);
  if (agent.isPending) return <Loading what="agent" />;
  if (agent.error) return <ErrorNotice error={agent.error} retry={() => void agent.refetch()} />;
  const a = agent.data;
  if (!a) return <Loading what="agent" />;
  return (
    <div className="flex flex-col gap-4">
      <nav aria-label="Breadcrumb" className="text-sm text-slate-500">
        <Link href="/" className="hover:underline">
          Agents
        </Link>{' '}
        / {a.name}
      </nav>
      <div className="flex flex-wrap items-center gap-3">
        <h1 className="text-2xl font-semibold">{a.name}</h1>
        <StatusBadge status={a.pausedAt ? 'paused' : a.status} />
        <span className="text-sm text-slate-600">{a.runtime}</span>
        <span className="text-sm text-slate-600" aria-label="Active deployment">
          active: <code>{a.activeDeploymentId ?? 'none'}</code>
        </span>
        <code className="text-xs text-slate-400">{a.id}</code>
      </div>
      {a.pausedAt ? (
        <div role="alert" className="rounded-md border border-amber-300 bg-amber-50 p-3 text-sm">
          Paused since {new Date(a.pausedAt).toLocaleString()}: your tier no longer covers this agent. Upgrade to resume
          it.
        </div>
      ) : null}
      <Tabs.Root
        value={TABS.some(([t]) => t === tab) ? tab : 'deployments'}
        onValueChange={(t) => navigate(`/agents/${agentId}?tab=${t}`)}
      >
        <Tabs.List aria-label="Agent sections" className="mb-4 flex gap-1 border-b border-slate-200">
          {TABS.map(([value, label]) => (
            <Tabs.Trigger key={value} value={value} className={tabClass}>
              {label}
            </Tabs.Trigger>
          ))}
        </Tabs.List>
        <Tabs.Content value="deployments">
          <DeploymentsPanel agent={a} />
        </Tabs.Content>
        <Tabs.Content value="secrets">
          <SecretsPanel agentId={a.id} />
        </Tabs.Content>
        <Tabs.Content value="api-keys">
          <ApiKeysPanel agentId={a.id} />
        </Tabs.Content>
        <Tabs.Content value="playground">
          <Playground agentId={a.id} />
        </Tabs.Content>
        <Tabs.Content value="metrics">
          <MetricsPanel agentId={a.id} />
        </Tabs.Content>
        <Tabs.Content value="logs">
          <LogsPanel agentId={a.id} />
        </Tabs.Content>
      </Tabs.Root>
    </div>
  );
}
