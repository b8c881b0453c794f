import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { WorkflowHandle } from '@temporalio/client';
import { Worker } from '@temporalio/worker';
import { inject } from 'vitest';
import { temporalCliPath } from '../../lib/temporal/dev-server.js';
import { encryptedDataConverter } from '../../lib/temporal/codec.js';
import { workflowSinks } from '../../workers/deploy-worker.js';
import { WORKFLOW_BUNDLE_PATH } from '../../workers/workflow-bundle.js';

/**
 * The payload codec of every test client and worker, with a fixed key (recorded histories hold
 * ciphertext sealed with it; workflows/replay.test.ts decodes them with the same key).
 */
export const TEST_DATA_CONVERTER = encryptedDataConverter(Buffer.alloc(32, 0x5e));

/**
 * Replays the workflow's history against the current workflow bundle, and with
 * `RECORD_HISTORIES=1` writes it, as the server stores it, to `<dir>/histories/<file>` for
 * workflows/replay.test.ts to replay in CI.
 */
export async function replayAndRecord(
  handle: WorkflowHandle,
  dir: string,
  file: string,
  /** One run of a chain (e.g. the first, before continue-as-new); `handle` must be that run's too. Default: the latest. */
  runId?: string,
): Promise<void> {
  await Worker.runReplayHistory(
    { workflowBundle: { codePath: WORKFLOW_BUNDLE_PATH }, dataConverter: TEST_DATA_CONVERTER, sinks: workflowSinks() },
    await handle.fetchHistory(),
  );
  if (!process.env.RECORD_HISTORIES) return;
  const json = execFileSync(temporalCliPath(), [
    'workflow',
    'show',
    '--address',
    inject('temporalAddress'),
    '--workflow-id',
    handle.workflowId,
    ...(runId ? ['--run-id', runId] : []),
    '--output',
    'json',
  ]);
  writeFileSync(join(dir, 'histories', file), json);
}
