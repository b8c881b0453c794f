import { Button, Card, Empty, ErrorNotice, Loading, relativeTime, StatusBadge } from '../../ui/primitives.js';
import { ConfirmDialog } from '../../ui/ConfirmDialog.js';
import { DeployForm } from './DeployForm.js';
import { useDeployment, useDeployments, useRollback } from './queries.js';
import { StepProgress } from './StepProgress.js';

type Agent = { id: string; name: string; activeDeploymentId: string | null };

/** An agent's deployments, newest first, each with its live step progress; rollback to any earlier live one. */
export function DeploymentsPanel({ agent }: { agent: Agent }) {
  const deployments = useDeployments(agent.id);
  const rollback = useRollback(agent.id);
  const items = deployments.data?.items ?? [];
  return (
    <div className="flex flex-col gap-4">
      <DeployForm agentId={agent.id} />
      <Card title="Deployments">
        {rollback.error ? <ErrorNotice error={rollback.error} /> : null}
        {deployments.isPending ? (
          <Loading what="deployments" />
        ) : deployments.error ? (
          <ErrorNotice error={deployments.error} retry={() => void deployments.refetch()} />
        ) : items.length === 0 ? (
          <Empty title="No deployments yet">Deploy a folder or a git repository above.</Empty>
        ) : (
          <ul aria-label="Deployments" className="flex flex-col divide-y divide-slate-100">
            {items.map((d) => {
              const active = d.id === agent.activeDeploymentId;
              return (
                <li key={d.id} aria-label={`Deployment v${d.version}`} className="py-3">
                  <div className="flex flex-wrap items-center gap-2">
                    <span className="font-mono text-sm font-semibold">v{d.version}</span>
                    <StatusBadge status={d.status} />
                    {active ? (
                      <span className="rounded bg-indigo-100 px-2 py-0.5 text-xs font-medium text-indigo-800">
                        active
                      </span>
                    ) : null}
                    <span className="text-xs text-slate-500">
                      {d.sourceType}
                      {d.framework ? ` · ${d.framework}` : ''}
                      {d.commitSha ? ` · ${d.commitSha.slice(0, 7)}` : ''} · {relativeTime(d.createdAt)}
                    </span>
                    <code className="text-xs text-slate-400">{d.id}</code>
                    <span className="grow" />
                    {d.status === 'live' && !active ? (
                      <ConfirmDialog
                        title={`Roll back to v${d.version}?`}
                        description={`${agent.name} will serve deployment v${d.version} (${d.id}) again, with the current secrets. Nothing is rebuilt.`}
                        confirmLabel="Roll back"
                        onConfirm={() => rollback.mutate(d.id)}
                        trigger={
                          <Button variant="secondary" disabled={rollback.isPending}>
                            Roll back to v{d.version}
                          </Button>
                        }
                      />
                    ) : null}
                  </div>
                  {d.status !== 'live' ? <LiveSteps deploymentId={d.id} /> : null}
                  {d.error ? <p className="mt-1 text-sm text-red-700">{d.error.message}</p> : null}
                </li>
              );
            })}
          </ul>
        )}
      </Card>
    </div>
  );
}

/** Follows one deployment (its record and the workflow's current step); live updates refresh it. */
function LiveSteps({ deploymentId }: { deploymentId: string }) {
  const d = useDeployment(deploymentId);
  if (d.isPending) return <Loading what="steps" />;
  if (d.error) return <ErrorNotice error={d.error} />;
  return (
    <div className="mt-2">
      <StepProgress deployment={d.data} />
    </div>
  );
}
