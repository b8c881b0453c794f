// @vitest-environment happy-dom
import { cleanup, render, screen } from '@testing-library/react';
import { afterEach, describe, expect, it } from 'vitest';
import { StepProgress } from './StepProgress.js';

afterEach(cleanup);
const at = '2026-12-01T00:00:00.000Z';

describe('StepProgress', () => {
  it('names each step with its state and sets the progress bar', () => {
    const { rerender } = render(
      <StepProgress
        deployment={{
          id: 'dep_1',
          status: 'building',
          steps: [{ step: 'validate', status: 'succeeded', at }],
          currentStep: 'bundle',
        }}
      />,
    );
    expect(screen.getByRole('listitem', { name: 'Validate: done' })).toBeTruthy();
    expect(screen.getByRole('listitem', { name: 'Build and bundle: running' })).toBeTruthy();
    expect(screen.getByRole('progressbar', { name: 'Deploy progress of dep_1' }).getAttribute('aria-valuenow')).toBe(
      '1',
    );

    // the same component, fed the next state of the record, moves on (as a live update does)
    rerender(
      <StepProgress
        deployment={{
          id: 'dep_1',
          status: 'failed',
          steps: [
            { step: 'validate', status: 'succeeded', at },
            { step: 'bundle', status: 'failed', at, message: 'Could not resolve "./missing.js"' },
          ],
          currentStep: null,
        }}
      />,
    );
    expect(screen.getByRole('listitem', { name: 'Build and bundle: failed' }).textContent).toContain('missing.js');
    expect(screen.getByRole('listitem', { name: 'Live: skipped' })).toBeTruthy();
  });
});
