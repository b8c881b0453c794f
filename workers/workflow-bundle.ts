import { mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';

const root = resolve(import.meta.dirname, '..');

/** Built ahead of time (start and test commands do it); workers never bundle at run time. */
export const WORKFLOW_BUNDLE_PATH = join(root, 'dist/workflow-bundle.js');

/** Everything a workflow may import, and this file; a change to any of it means a new bundle. */
const SOURCES = ['workflows', 'lib/contracts', 'lib/temporal', 'activities', 'workers/workflow-bundle.ts'].map((d) =>
  join(root, d),
);

/**
 * The workflow side of `@temporalio/interceptors-opentelemetry`: each workflow run, activity
 * and child workflow becomes a span continuing the trace of whoever started it; the spans
 * leave the sandbox through the worker's `exporter` sink (workers/deploy-worker.ts).
 */
const INTERCEPTOR_MODULES = [
  createRequire(import.meta.url).resolve('@temporalio/interceptors-opentelemetry/lib/workflow-interceptors'),
];

function newestMtime(path: string): number {
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.mtimeMs;
  let newest = 0;
  for (const entry of readdirSync(path)) newest = Math.max(newest, newestMtime(join(path, entry)));
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
    workflowInterceptorModules: INTERCEPTOR_MODULES,
    logger: { log() {}, trace() {}, debug() {}, info() {}, warn: console.warn, error: console.error },
  });
  mkdirSync(dirname(WORKFLOW_BUNDLE_PATH), { recursive: true });
  writeFileSync(WORKFLOW_BUNDLE_PATH, code);
  return true;
}
