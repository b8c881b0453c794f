import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Worker } from '@temporalio/worker';
import { describe, expect, it } from 'vitest';
import { TEST_DATA_CONVERTER } from '../test/helpers/temporal.js';
import { workflowSinks } from '../workers/deploy-worker.js';
import { WORKFLOW_BUNDLE_PATH } from '../workers/workflow-bundle.js';

// Recorded histories of every workflow (workflows/<domain>/histories/). If a change to a
// workflow makes one fail to replay, running workflows would break on deploy: guard the
// change with patched() instead. Record new ones with RECORD_HISTORIES=1 (see each
// workflow's test).
const domains = readdirSync(import.meta.dirname, { withFileTypes: true })
  .filter((d) => d.isDirectory())
  .map((d) => d.name);
const histories = domains.flatMap((domain) => {
  const dir = join(import.meta.dirname, domain, 'histories');
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .map((f) => join(domain, 'histories', f));
});

describe('workflows replay their recorded histories', () => {
  it('every workflow has recorded histories to replay', () => {
    for (const domain of domains)
      expect(
        histories.some((h) => h.startsWith(`${domain}/`)),
        domain,
      ).toBe(true);
  });
  it.each(histories)('%s', async (file) => {
    const history: unknown = JSON.parse(readFileSync(join(import.meta.dirname, file), 'utf8'));
    await Worker.runReplayHistory(
      {
        workflowBundle: { codePath: WORKFLOW_BUNDLE_PATH },
        dataConverter: TEST_DATA_CONVERTER,
        sinks: workflowSinks(),
      },
      history,
      file,
    );
  });
});
