import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Agent, Deployment } from '../../lib/contracts/index.js';
import { echoVersion } from '../helpers/fixtures.js';
import { startDevServer, type DevServer } from '../../lib/temporal/dev-server.js';
import { freePort } from '../helpers/ports.js';
import { connectTestPostgres } from '../helpers/postgres.js';
import { startGatewayProcess, startPlatform, type RunningPlatform } from '../helpers/platform.js';
import pg from 'pg';

// The same platform on external parts: DATABASE_URL (a PostgreSQL server, not PGlite) and
// TEMPORAL_ADDRESS (a Temporal the platform did not start).
const server = await connectTestPostgres('the end-to-end run on PostgreSQL');

describe.runIf(server !== null)('the platform on a PostgreSQL server and an external Temporal', () => {
  let temporal: DevServer;
  let platform: RunningPlatform;
  let token: string;
  let databaseUrl: string;

  beforeAll(async () => {
    databaseUrl = await server!.createDatabase('webhost_e2e');
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

  it('three gateway processes share one request limit, and each writes all its usage on a clean stop', async () => {
    const agent = await api<Agent>('POST', '/v1/agents', { name: 'limited', runtime: 'local' });
    const { deploymentId } = await api<{ deploymentId: string }>('POST', `/v1/agents/${agent.id}/deployments`, {
      source: echoVersion('v1'),
    });
    await expect
      .poll(async () => (await api<Deployment>('GET', `/v1/deployments/${deploymentId}`)).status, {
        timeout: 60_000,
        interval: 200,
      })
      .toBe('live');
    const db = new pg.Client({ connectionString: databaseUrl });
    await db.connect();
    try {
      // the free tier (10,000 requests a period), of which 9,700 are leased already
      const period = new Date().toISOString().slice(0, 7);
      await db.query(`update users set tier = 'free' where id = 'pg-user'`);
      await db.query(
        `insert into request_counters (owner_id, period, leased) values ('pg-user', $1, 9700)
         on conflict (owner_id, period) do update set leased = 9700`,
        [period],
      );
      const gateways = await Promise.all(
        [1, 2, 3].map(() => startGatewayProcess(platform, { DATABASE_URL: databaseUrl })),
      );
      // 200 callers, two invokes each, spread over the three gateways: 400 racing for 300
      const statuses = await Promise.all(
        Array.from({ length: 200 }, async (_, caller) => {
          const out: number[] = [];
          for (let i = 0; i < 2; i++) {
            const res = await fetch(`${gateways[(caller + i) % 3]!.url}/v1/agents/${agent.id}/invoke`, {
              method: 'POST',
              headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
              body: JSON.stringify({ input: caller }),
            });
            await res.arrayBuffer();
            out.push(res.status);
          }
          return out;
        }),
      );
      const all = statuses.flat();
      expect(all.filter((s) => s === 200)).toHaveLength(300);
      expect(all.filter((s) => s === 429)).toHaveLength(100);
      expect(await Promise.all(gateways.map((g) => g.stop()))).toEqual([0, 0, 0]);
      const { rows } = await db.query(
        `select count(*)::int as n from telemetry_events where agent_id = $1 and kind = 'request' and status = 200`,
        [agent.id],
      );
      expect(rows[0].n).toBe(300);
      const { rows: counter } = await db.query(`select leased from request_counters where owner_id = 'pg-user'`);
      expect(Number(counter[0].leased)).toBe(10_000);
    } finally {
      await db.end();
    }
  });
});
