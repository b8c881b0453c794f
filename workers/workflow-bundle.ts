import { mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';

const root = resolve(import.meta.dirname, '..');

/** Built ahead of time (start and test commands do it); workers never bundle at run time. */
export const WORKFLOW_BUNDLE_PATH = join(root, 'dist/workflow-bundle.js');

/** Everything a workflow may import; a change to any of it means a new bundle. */
const SOURCES = ['workflows', 'lib/contracts', 'lib/temporal', 'activities'].map((d) => join(root, d));

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(p) : statSync(p).mtimeMs);
  }
  return newest;
}

/** Builds the workflow bundle unless it is newer than every source. Returns whether it built. */
export async function buildWorkflowBundle(opts: { force?: boolean } = {}): Promise<boolean> {
  let bundleMtime = 0;
  try {
    bundleMtime = statSync(WORKFLOW_BUNDLE_PATH).mtimeMs;
  } catch {
    // not built yet
  }
  if (!opts.force && bundleMtime > Math.max(...SOURCES.map(newestMtime))) return false;
  const { code } = await bundleWorkflowCode({
    workflowsPath: join(root, 'workflows/index.ts'),
    logger: { log() {}, trace() {}, debug() {}, info() {}, warn: console.warn, error: console.error },
  });
  mkdirSync(dirname(WORKFLOW_BUNDLE_PATH), { recursive: true });
  writeFileSync(WORKFLOW_BUNDLE_PATH, code);
  return true;
}
