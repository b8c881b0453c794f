import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Agent, Deployment } from '../../lib/contracts/index.js';
import { echoVersion } from '../helpers/fixtures.js';
import { startDevServer, type DevServer } from '../../lib/temporal/dev-server.js';
import { freePort } from '../helpers/ports.js';
import { connectTestPostgres } from '../helpers/postgres.js';
import { startPlatform, type RunningPlatform } from '../helpers/platform.js';

// The same platform on external parts: DATABASE_URL (a PostgreSQL server, not PGlite) and
// TEMPORAL_ADDRESS (a Temporal the platform did not start).
const server = await connectTestPostgres('the end-to-end run on PostgreSQL');

describe.runIf(server !== null)('the platform on a PostgreSQL server and an external Temporal', () => {
  let temporal: DevServer;
  let platform: RunningPlatform;
  let token: string;

  beforeAll(async () => {
    const databaseUrl = await server!.createDatabase('webhost_e2e');
    temporal = await startDevServer({ port: await freePort(), uiPort: null });
    platform = await startPlatform({ env: { DATABASE_URL: databaseUrl, TEMPORAL_ADDRESS: temporal.address } });
    token = await platform.token('pg-user');
  });
  afterAll(async () => {
    await platform?.stop();
    await temporal?.stop();
    await server?.close();
  });

  const api = async <T>(method: string, path: string, body?: unknown) =>
    (await (
      await fetch(`${platform.apiUrl}${path}`, {
        method,
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: body === undefined ? null : JSON.stringify(body),
      })
    ).json()) as T;

  it('deploys v1 and v2 and the gateway follows the switch', async () => {
    expect(platform.output()).toContain('PostgreSQL (DATABASE_URL)');
    expect(platform.output()).toContain(`temporal     ${temporal.address}\n`);
    const agent = await api<Agent>('POST', '/v1/agents', { name: 'echo', runtime: 'local' });
    for (const version of ['v1', 'v2']) {
      const { deploymentId } = await api<{ deploymentId: string }>('POST', `/v1/agents/${agent.id}/deployments`, {
        source: echoVersion(version),
      });
      await expect
        .poll(async () => (await api<Deployment>('GET', `/v1/deployments/${deploymentId}`)).status, {
          timeout: 60_000,
          interval: 200,
        })
        .toBe('live');
      const res = await fetch(`${platform.gatewayUrl}/v1/agents/${agent.id}/invoke`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ input: 1 }),
      });
      expect(((await res.json()) as { output: { version: string } }).output.version).toBe(version);
    }
  });
});
