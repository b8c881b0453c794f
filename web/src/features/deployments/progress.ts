import type { DeployStep, DeploymentStatus, StepLogEntry } from '../../../../lib/contracts/deployments.js';

/** The deploy workflow's steps in order (workflows/deploy/workflow.ts), as the dashboard names them. */
export const DEPLOY_STEPS = [
  ['validate', 'Validate'],
  ['bundle', 'Build and bundle'],
  ['create_version', 'Create version'],
  ['health_check', 'Health check'],
  ['activate', 'Activate'],
  ['mark_live', 'Live'],
] as const satisfies readonly (readonly [DeployStep, string])[];

export type StepState = 'done' | 'running' | 'failed' | 'pending' | 'skipped';

export interface StepView {
  step: DeployStep;
  label: string;
  state: StepState;
  at: string | null;
  message: string | null;
}

export interface ProgressView {
  steps: StepView[];
  /** Steps done out of all, 0..1. */
  fraction: number;
  /** Whether the failed deploy's compensations ran (the previous deployment serves again). */
  compensated: boolean;
}

/**
 * Where a deployment is, step by step, from what the api says: the step log (an entry per
 * step that ended), the workflow's current step while in flight, and the status. A live
 * deployment has every step done; a failed or canceled one has its failing step failed and
 * the rest skipped; an in-flight one runs the workflow's current step (or the first not done).
 */
export function deployProgress(d: {
  status: DeploymentStatus;
  steps: readonly StepLogEntry[];
  currentStep?: DeployStep | null;
}): ProgressView {
  const last = new Map<DeployStep, StepLogEntry>();
  for (const e of d.steps) last.set(e.step, e);
  const failedAt = d.steps.find((e) => e.status === 'failed' && e.step !== 'compensate')?.step ?? null;
  const inFlight = d.status === 'queued' || d.status === 'building' || d.status === 'deploying';
  const firstOpen = DEPLOY_STEPS.find(([s]) => last.get(s)?.status !== 'succeeded')?.[0] ?? null;
  const running = inFlight ? (d.currentStep && d.currentStep !== 'compensate' ? d.currentStep : firstOpen) : null;
  let passedFailure = false;
  const steps = DEPLOY_STEPS.map(([step, label]): StepView => {
    const entry = last.get(step);
    let state: StepState;
    if (d.status === 'live') state = 'done';
    else if (entry?.status === 'failed' || (!inFlight && failedAt === null && step === firstOpen)) {
      // a final, not-live deployment whose log names no failed step failed at its first open one
      state = 'failed';
      passedFailure = true;
    } else if (passedFailure) state = 'skipped';
    else if (entry?.status === 'succeeded') state = 'done';
    else if (step === running) state = 'running';
    else state = inFlight ? 'pending' : 'skipped';
    return { step, label, state, at: entry?.at ?? null, message: entry?.message ?? null };
  });
  const done = steps.filter((s) => s.state === 'done').length;
  return {
    steps,
    fraction: done / steps.length,
    compensated: d.steps.some((e) => e.step === 'compensate'),
  };
}
