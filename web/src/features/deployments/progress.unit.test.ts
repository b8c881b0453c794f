import { describe, expect, it } from 'vitest';
import type { StepLogEntry } from '../../../../lib/contracts/deployments.js';
import { deployProgress } from './progress.js';

const at = '2026-12-01T00:00:00.000Z';
const ok = (step: StepLogEntry['step']): StepLogEntry => ({ step, status: 'succeeded', at });
const states = (v: ReturnType<typeof deployProgress>) => v.steps.map((s) => `${s.step}:${s.state}`);

describe('deploy progress', () => {
  it('a queued deployment runs its first step, the rest pending', () => {
    const v = deployProgress({ status: 'queued', steps: [], currentStep: null });
    expect(states(v)).toEqual([
      'validate:running',
      'bundle:pending',
      'create_version:pending',
      'health_check:pending',
      'activate:pending',
      'mark_live:pending',
    ]);
    expect(v.fraction).toBe(0);
  });

  it('follows the workflow’s current step ahead of the step log', () => {
    const v = deployProgress({
      status: 'deploying',
      steps: [ok('validate'), ok('bundle')],
      currentStep: 'health_check',
    });
    expect(states(v).slice(0, 4)).toEqual([
      'validate:done',
      'bundle:done',
      'create_version:pending',
      'health_check:running',
    ]);
    expect(v.fraction).toBeCloseTo(2 / 6);
  });

  it('without a current step, the first step not done is the running one', () => {
    const v = deployProgress({ status: 'building', steps: [ok('validate')] });
    expect(v.steps[1]).toMatchObject({ step: 'bundle', state: 'running' });
  });

  it('a live deployment has every step done, whatever its log holds', () => {
    const v = deployProgress({ status: 'live', steps: [ok('bundle')] });
    expect(v.steps.every((s) => s.state === 'done')).toBe(true);
    expect(v.fraction).toBe(1);
  });

  it('a failed deployment shows its failed step with the message, skips the rest, and says it was undone', () => {
    const v = deployProgress({
      status: 'failed',
      steps: [
        ok('validate'),
        ok('bundle'),
        ok('create_version'),
        { step: 'health_check', status: 'failed', at, message: 'GET /ping answered 500' },
        ok('compensate'),
      ],
    });
    expect(states(v)).toEqual([
      'validate:done',
      'bundle:done',
      'create_version:done',
      'health_check:failed',
      'activate:skipped',
      'mark_live:skipped',
    ]);
    expect(v.steps[3]!.message).toBe('GET /ping answered 500');
    expect(v.compensated).toBe(true);
  });

  it('a failed deployment whose log names no failed step failed at its first open step', () => {
    const v = deployProgress({ status: 'failed', steps: [ok('validate')] });
    expect(states(v).slice(0, 3)).toEqual(['validate:done', 'bundle:failed', 'create_version:skipped']);
  });

  it('a canceled one before it started has its steps skipped from the first', () => {
    const v = deployProgress({ status: 'canceled', steps: [] });
    expect(v.steps[0]!.state).toBe('failed');
    expect(v.steps.slice(1).every((s) => s.state === 'skipped')).toBe(true);
  });
});
