import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Agent, Deployment } from '../../lib/contracts/index.js';
import { echoVersion } from '../helpers/fixtures.js';
import { startDevServer, type DevServer } from '../../lib/temporal/dev-server.js';
import { freePort } from '../helpers/ports.js';
import { startPlatform, type RunningPlatform } from '../helpers/platform.js';

// The same platform on external parts: DATABASE_URL (a PostgreSQL server, not PGlite) and
// TEMPORAL_ADDRESS (a Temporal the platform did not start).
const ADMIN_URL = process.env.TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const admin = new pg.Client({ connectionString: ADMIN_URL, connectionTimeoutMillis: 2000 });
const reachable = await admin.connect().then(
  () => true,
  (err: Error) => {
    if (process.env.CI) throw new Error(`PostgreSQL at ${ADMIN_URL} is not reachable (${err.message}); CI must provide it`);
    console.warn(`SKIPPING the end-to-end run on PostgreSQL: ${ADMIN_URL} is not reachable (${err.message})`);
    return false;
  },
);

describe.runIf(reachable)('the platform on a PostgreSQL server and an external Temporal', () => {
  const db = `webhost_e2e_${randomBytes(6).toString('hex')}`;
  let temporal: DevServer;
  let platform: RunningPlatform;
  let token: string;

  beforeAll(async () => {
    await admin.query(`create database ${db}`);
    const url = new URL(ADMIN_URL);
    url.pathname = `/${db}`;
    temporal = await startDevServer({ port: await freePort(), uiPort: null });
    platform = await startPlatform({ env: { DATABASE_URL: url.toString(), TEMPORAL_ADDRESS: temporal.address } });
    token = await platform.token('pg-user');
  });
  afterAll(async () => {
    await platform?.stop();
    await temporal?.stop();
    await admin.query(`drop database if exists ${db} with (force)`);
    await admin.end();
  });

  const api = async <T>(method: string, path: string, body?: unknown) =>
    (await (
      await fetch(`${platform.apiUrl}${path}`, { method, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: body === undefined ? null : JSON.stringify(body) })
    ).json()) as T;

  it('deploys v1 and v2 and the gateway follows the switch', async () => {
    expect(platform.output()).toContain('PostgreSQL (DATABASE_URL)');
    expect(platform.output()).toContain(`temporal     ${temporal.address}\n`);
    const agent = await api<Agent>('POST', '/v1/agents', { name: 'echo', runtime: 'local' });
    for (const version of ['v1', 'v2']) {
      const { deploymentId } = await api<{ deploymentId: string }>('POST', `/v1/agents/${agent.id}/deployments`, { source: echoVersion(version) });
      await expect.poll(async () => (await api<Deployment>('GET', `/v1/deployments/${deploymentId}`)).status, { timeout: 60_000, interval: 200 }).toBe('live');
      const res = await fetch(`${platform.gatewayUrl}/v1/agents/${agent.id}/invoke`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ input: 1 }),
      });
      expect(((await res.json()) as { output: { version: string } }).output.version).toBe(version);
    }
  });
});
