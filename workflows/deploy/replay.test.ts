import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Worker } from '@temporalio/worker';
import { describe, expect, it } from 'vitest';
import { WORKFLOW_BUNDLE_PATH } from '../../workers/workflow-bundle.js';

// Recorded histories of earlier versions of the deploy workflow. If a change to the
// workflow makes one fail to replay, running workflows would break on deploy: guard the
// change with patched() instead. Record new ones with RECORD_HISTORIES=1.
const dir = join(import.meta.dirname, 'histories');
const histories = readdirSync(dir).filter((f) => f.endsWith('.json'));

describe('deploy workflow replays its recorded histories', () => {
  it('has recorded histories to replay', () => {
    expect(histories.length).toBeGreaterThan(0);
  });
  it.each(histories)('%s', async (file) => {
    const history: unknown = JSON.parse(readFileSync(join(dir, file), 'utf8'));
    await Worker.runReplayHistory({ workflowBundle: { codePath: WORKFLOW_BUNDLE_PATH } }, history, file);
  });
});
