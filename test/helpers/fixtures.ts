import { readFileSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { FilesSource, Runtime } from '../../lib/contracts/index.js';
import { newId } from '../../lib/ids.js';
import type { Store } from '../../lib/store/index.js';

const root = resolve(import.meta.dirname, '../..');

/** An example agent from `examples/<name>` as a `files` source, exactly as shipped. */
export function exampleSource(name: string): FilesSource {
  const dir = join(root, 'examples', name);
  const files = Object.fromEntries(readdirSync(dir).map((f) => [f, readFileSync(join(dir, f), 'utf8')]));
  return { type: 'files', entry: 'index.js', files };
}

/** The echo example with its version string replaced, to tell deployments apart. */
export function echoVersion(version: string): FilesSource {
  const src = exampleSource('echo');
  return {
    ...src,
    files: { 'index.js': src.files['index.js']!.replace("const VERSION = 'v1';", `const VERSION = '${version}';`) },
  };
}

export function agentSource(code: string): FilesSource {
  return { type: 'files', entry: 'index.js', files: { 'index.js': code } };
}

/** An agent whose health check fails: it answers `/ping` with 500. */
export const UNHEALTHY_AGENT = agentSource(`export default { fetch(req) {
  return new URL(req.url).pathname === '/ping' ? new Response('not ready', { status: 500 }) : Response.json({ output: 'should never serve' });
} }`);

/** An agent that throws while its module loads. */
export const THROWS_AT_START_AGENT = agentSource(`throw new Error('boom at start');
export default { fetch() { return new Response('x') } }`);

/**
 * An agent of `ownerId` (who must exist) with one recorded deployment, never built or run:
 * what usage, telemetry and billing are attributed to in store-level tests and benches.
 */
export async function agentWithDeployment(
  store: Store,
  ownerId: string,
  opts: { name?: string; runtime?: Runtime } = {},
): Promise<{ ownerId: string; agentId: string; deploymentId: string }> {
  const now = new Date();
  const agent = await store.createAgent({
    id: newId('agt'),
    ownerId,
    name: opts.name ?? `a-${newId('agt').slice(-8)}`,
    runtime: opts.runtime ?? 'local',
    now,
  });
  const deploymentId = newId('dep');
  await store.createDeployment({
    id: deploymentId,
    ownerId,
    agentId: agent.id,
    workflowId: `deploy-${deploymentId}`,
    source: agentSource('export default { fetch() { return new Response("ok") } }'),
    now,
  });
  return { ownerId, agentId: agent.id, deploymentId };
}
