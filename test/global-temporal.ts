import type { TestProject } from 'vitest/node';
import { startDevServer } from '../lib/temporal/dev-server.js';
import { buildWorkflowBundle } from '../workers/workflow-bundle.js';
import { freePort } from './helpers/ports.js';

declare module 'vitest' {
  export interface ProvidedContext {
    temporalAddress: string;
  }
}

/** One real Temporal dev server (in memory, headless) for every integration test file. */
export default async function setup(project: TestProject) {
  await buildWorkflowBundle();
  const server = await startDevServer({ port: await freePort(), uiPort: null });
  project.provide('temporalAddress', server.address);
  return () => server.stop();
}
