// Builds the workflow bundle once, ahead of time, so workers never bundle at run time.
// Skips the work when the bundle is newer than every workflow source.
import { mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import { WORKFLOW_BUNDLE_PATH } from '../workers/deploy-worker.js';

const root = resolve(import.meta.dirname, '..');
const sources = ['workflows', 'lib/contracts', 'lib/temporal', 'activities'].map((d) => join(root, d));

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(p) : statSync(p).mtimeMs);
  }
  return newest;
}

const bundleMtime = (() => {
  try {
    return statSync(WORKFLOW_BUNDLE_PATH).mtimeMs;
  } catch {
    return 0;
  }
})();

if (!process.argv.includes('--force') && bundleMtime > Math.max(...sources.map(newestMtime))) {
  console.log(`workflow bundle is up to date (${WORKFLOW_BUNDLE_PATH})`);
} else {
  const started = Date.now();
  const { code } = await bundleWorkflowCode({ workflowsPath: join(root, 'workflows/index.ts'), logger: undefined });
  mkdirSync(dirname(WORKFLOW_BUNDLE_PATH), { recursive: true });
  writeFileSync(WORKFLOW_BUNDLE_PATH, code);
  console.log(`built workflow bundle in ${Date.now() - started} ms (${WORKFLOW_BUNDLE_PATH})`);
}
