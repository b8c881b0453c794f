import { buildWorkflowBundle } from '../workers/workflow-bundle.js';

/** The e2e layer starts real workers, which load the prebuilt workflow bundle. */
export default async function setup() {
  await buildWorkflowBundle();
}
