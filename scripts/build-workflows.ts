// Builds the Temporal workflow bundle once, ahead of time (skipped when it is up to date).
import { buildWorkflowBundle, WORKFLOW_BUNDLE_PATH } from '../workers/workflow-bundle.js';

const started = Date.now();
const built = await buildWorkflowBundle({ force: process.argv.includes('--force') });
console.log(
  built
    ? `built the workflow bundle in ${Date.now() - started} ms: ${WORKFLOW_BUNDLE_PATH}`
    : `workflow bundle is up to date: ${WORKFLOW_BUNDLE_PATH}`,
);
