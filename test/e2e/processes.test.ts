import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Agent, Deployment } from '../../lib/contracts/index.js';
import { startDevServer, type DevServer } from '../../lib/temporal/dev-server.js';
import { echoVersion } from '../helpers/fixtures.js';
import { startSplitPlatform, type SplitPlatform } from '../helpers/platform.js';
import { freePort } from '../helpers/ports.js';
import { connectTestPostgres } from '../helpers/postgres.js';

// The scale-out topology without containers (what docker-compose runs): the api, two workers
// and three gateways as separate processes, configured by environment only, against one
// PostgreSQL, one Temporal and the local runtime.
const server = await connectTestPostgres('the multi-process end-to-end run');

describe.runIf(server !== null)('the platform as separate processes', () => {
  let temporal: DevServer;
  let platform: SplitPlatform;
  let apiUrl: string;
  let gateways: string[];
  let token: string;

  beforeAll(async () => {
    temporal = await startDevServer({ port: await freePort(), uiPort: null });
    platform = await startSplitPlatform({
      databaseUrl: await server!.createDatabase('webhost_procs'),
      temporalAddress: temporal.address,
      workers: 2,
      gateways: 3,
    });
    apiUrl = platform.apiUrl;
    gateways = platform.gateways.map((g) => g.ready.url as string);
    token = await platform.token('scaled');
  }, 180_000);
  afterAll(async () => {
    await platform?.stop();
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
