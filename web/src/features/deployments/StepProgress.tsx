import type { DeployStep, DeploymentStatus, StepLogEntry } from '../../../../lib/contracts/deployments.js';
import { deployProgress, type StepState } from './progress.js';

const mark: Record<StepState, string> = { done: '✓', running: '●', failed: '✕', pending: '○', skipped: '–' };
const tone: Record<StepState, string> = {
  done: 'text-emerald-700',
  running: 'text-sky-700 animate-pulse',
  failed: 'text-red-700',
  pending: 'text-slate-400',
  skipped: 'text-slate-400',
};

/** The deploy workflow's steps as they happen: each step's state, from the live deployment record. */
export function StepProgress({
  deployment,
}: {
  deployment: { id: string; status: DeploymentStatus; steps: StepLogEntry[]; currentStep?: DeployStep | null };
}) {
  const view = deployProgress(deployment);
  const done = view.steps.filter((s) => s.state === 'done').length;
  return (
    <div>
      <div
        role="progressbar"
        aria-label={`Deploy progress of ${deployment.id}`}
        aria-valuemin={0}
        aria-valuemax={view.steps.length}
        aria-valuenow={done}
        className="mb-2 h-1.5 w-full overflow-hidden rounded bg-slate-200"
      >
        <div className="h-full bg-indigo-500 transition-all" style={{ width: `${view.fraction * 100}%` }} />
      </div>
      <ol aria-label={`Steps of ${deployment.id}`} className="grid gap-1 text-sm sm:grid-cols-3 lg:grid-cols-6">
        {view.steps.map((s) => (
          <li
            key={s.step}
            data-state={s.state}
            aria-label={`${s.label}: ${s.state}`}
            className={`flex items-start gap-1 ${tone[s.state]}`}
          >
            <span aria-hidden>{mark[s.state]}</span>
            <span>
              {s.label}
              {s.message ? <span className="block text-xs text-red-700">{s.message}</span> : null}
            </span>
          </li>
        ))}
      </ol>
      {view.compensated ? (
        <p className="mt-1 text-xs text-slate-600">The deploy was undone; the previous deployment keeps serving.</p>
      ) : null}
    </div>
  );
}
