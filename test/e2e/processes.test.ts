import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureLocalKeyPair } from '../../lib/auth/local-keys.js';
import { signLocalToken } from '../../lib/auth/sign.js';
import type { Agent, Deployment } from '../../lib/contracts/index.js';
import { startDevServer, stopChild, type DevServer } from '../../lib/temporal/dev-server.js';
import { ensureControlToken } from '../../runtime-local/server.js';
import { echoVersion } from '../helpers/fixtures.js';
import { startProcess, type PlatformProcess } from '../helpers/platform.js';
import { freePort } from '../helpers/ports.js';
import { connectTestPostgres } from '../helpers/postgres.js';

// The scale-out topology without containers (what docker-compose runs): the api, two workers
// and three gateways as separate processes, configured by environment only, against one
// PostgreSQL, one Temporal and the local runtime.
const server = await connectTestPostgres('the multi-process end-to-end run');
const root = resolve(import.meta.dirname, '../..');

describe.runIf(server !== null)('the platform as separate processes', () => {
  let temporal: DevServer;
  const processes: PlatformProcess[] = [];
  let runtime: ReturnType<typeof spawn>;
  let apiUrl: string;
  let gateways: string[];
  let token: string;

  beforeAll(async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'wh-procs-'));
    const databaseUrl = await server!.createDatabase('webhost_procs');
    temporal = await startDevServer({ port: await freePort(), uiPort: null });
    const apiPort = await freePort();
    const runtimePort = await freePort();
    const shared = {
      WEBHOST_DATA_DIR: dataDir,
      DATABASE_URL: databaseUrl,
      TEMPORAL_ADDRESS: temporal.address,
      LOCAL_RUNTIME_URL: `http://127.0.0.1:${runtimePort}`,
      API_PORT: String(apiPort),
    };
    const controlToken = ensureControlToken(dataDir);
    runtime = spawn(process.execPath, ['--import', 'tsx', join(root, 'runtime-local/main.ts')], {
      cwd: root,
      stdio: 'ignore',
      env: { ...process.env, ...shared, LOCAL_RUNTIME_PORT: String(runtimePort), LOCAL_RUNTIME_DRAIN_MS: '1000' },
    });
    for (let waited = 0; ; waited += 200) {
      const res = await fetch(`http://127.0.0.1:${runtimePort}/healthz`, {
        headers: { authorization: `Bearer ${controlToken}` },
      }).catch(() => null);
      if (res?.status === 200) break;
      if (waited > 30_000) throw new Error('the local runtime did not come up');
      await new Promise((r) => setTimeout(r, 200));
    }
    // the api first (it migrates the database), then the workers and gateways together
    const api = await startProcess('api/main.ts', 'api_ready', shared);
    processes.push(api);
    apiUrl = api.ready.url as string;
    const rest = await Promise.all([
      startProcess('workers/main.ts', 'worker_ready', shared),
      startProcess('workers/main.ts', 'worker_ready', shared),
      ...[1, 2, 3].map(() => startProcess('gateway/main.ts', 'gateway_ready', { ...shared, GATEWAY_PORT: '0' })),
    ]);
    processes.push(...rest);
    gateways = rest.slice(2).map((g) => g.ready.url as string);
    token = await signLocalToken(ensureLocalKeyPair(dataDir).privateKeyPem, 'scaled');
  }, 180_000);
  afterAll(async () => {
    await Promise.all(processes.map((p) => p.stop()));
    if (runtime) await stopChild(runtime);
    await temporal?.stop();
    await server?.close();
  });

  const api = async <T>(method: string, path: string, body?: unknown) =>
    (await (
      await fetch(`${apiUrl}${path}`, {
        method,
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: body === undefined ? null : JSON.stringify(body),
      })
    ).json()) as T;
  const deployLive = async (agentId: string, version: string) => {
    const { deploymentId } = await api<{ deploymentId: string }>('POST', `/v1/agents/${agentId}/deployments`, {
      source: echoVersion(version),
    });
    await expect
      .poll(async () => (await api<Deployment>('GET', `/v1/deployments/${deploymentId}`)).status, {
        timeout: 90_000,
        interval: 250,
      })
      .toBe('live');
    return deploymentId;
  };
  const versionsServed = async (agentId: string) =>
    Promise.all(
      gateways.map(async (g) => {
        const res = await fetch(`${g}/v1/agents/${agentId}/invoke`, {
          method: 'POST',
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
          body: JSON.stringify({ input: 1 }),
        });
        expect(res.status).toBe(200);
        return ((await res.json()) as { output: { version: string } }).output.version;
      }),
    );

  it('deploys through the workers, serves from every gateway, and every gateway follows a deploy and a rollback on its next call', async () => {
    const agent = await api<Agent>('POST', '/v1/agents', { name: 'scaled', runtime: 'local' });
    const v1 = await deployLive(agent.id, 'v1');
    expect(await versionsServed(agent.id)).toEqual(['v1', 'v1', 'v1']);
    await deployLive(agent.id, 'v2');
    expect(await versionsServed(agent.id)).toEqual(['v2', 'v2', 'v2']);
    const rollback = await api<{ workflowId: string }>('POST', `/v1/agents/${agent.id}/rollback`, { deploymentId: v1 });
    expect(rollback.workflowId).toMatch(/^rollback-/);
    await expect
      .poll(async () => (await api<Agent>('GET', `/v1/agents/${agent.id}`)).activeDeploymentId, {
        timeout: 30_000,
        interval: 100,
      })
      .toBe(v1);
    expect(await versionsServed(agent.id)).toEqual(['v1', 'v1', 'v1']);
  });
});
