import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorEnvelope, periodOf, TIER_LIMITS, type Agent, type Deployment } from '../../lib/contracts/index.js';
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
  let databaseUrl: string;

  beforeAll(async () => {
    temporal = await startDevServer({ port: await freePort(), uiPort: null });
    databaseUrl = await server!.createDatabase('webhost_procs');
    platform = await startSplitPlatform({
      databaseUrl,
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

  const api = async <T>(method: string, path: string, body?: unknown, as = token) =>
    (await (
      await fetch(`${apiUrl}${path}`, {
        method,
        headers: { authorization: `Bearer ${as}`, 'content-type': 'application/json' },
        body: body === undefined ? null : JSON.stringify(body),
      })
    ).json()) as T;
  const deployLive = async (agentId: string, version: string, as = token) => {
    const { deploymentId } = await api<{ deploymentId: string }>(
      'POST',
      `/v1/agents/${agentId}/deployments`,
      {
        source: echoVersion(version),
      },
      as,
    );
    await expect
      .poll(async () => (await api<Deployment>('GET', `/v1/deployments/${deploymentId}`, undefined, as)).status, {
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

  it('shares one request limit between the gateways: together they never admit more than the tier allows', async () => {
    const capped = await platform.token('capped');
    await api('GET', '/v1/account', undefined, capped); // the user exists from its first call
    const agent = await api<Agent>('POST', '/v1/agents', { name: 'capped', runtime: 'local' }, capped);
    await deployLive(agent.id, 'v1', capped);
    // the free tier, with all but 30 of its period's requests already used
    const limit = TIER_LIMITS.free.requestsPerPeriod!;
    const db = new pg.Client({ connectionString: databaseUrl });
    await db.connect();
    const period = periodOf(new Date());
    try {
      await db.query(`update users set tier = 'free' where id = 'capped'`);
      await db.query(
        `insert into request_counters (owner_id, period, leased) values ('capped', $1, $2)
         on conflict (owner_id, period) do update set leased = excluded.leased`,
        [period, limit - 30],
      );
      // 60 invokes, spread over the three gateways, six at a time
      const statuses: number[][] = gateways.map(() => []);
      const one = async (i: number) => {
        const g = i % gateways.length;
        const res = await fetch(`${gateways[g]}/v1/agents/${agent.id}/invoke`, {
          method: 'POST',
          headers: { authorization: `Bearer ${capped}`, 'content-type': 'application/json' },
          body: JSON.stringify({ input: i }),
        });
        if (res.status === 429) {
          expect(ErrorEnvelope.parse(await res.json()).error.code).toBe('limit_exceeded');
          expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
        } else await res.body?.cancel();
        statuses[g]!.push(res.status);
      };
      for (let i = 0; i < 60; i += 6) await Promise.all([0, 1, 2, 3, 4, 5].map((k) => one(i + k)));
      const admitted = statuses.flat().filter((s) => s === 200).length;
      expect(statuses.flat().filter((s) => s !== 200 && s !== 429)).toEqual([]);
      // never past the limit; what a gateway leased and got no request for is all that may go unused
      expect(admitted).toBeLessThanOrEqual(30);
      expect(admitted).toBeGreaterThanOrEqual(24);
      // every gateway refuses once the owner's requests are gone
      for (const s of statuses) expect(s).toContain(429);
      const { rows } = await db.query<{ leased: string }>(
        `select leased from request_counters where owner_id = 'capped' and period = $1`,
        [period],
      );
      expect(Number(rows[0]!.leased)).toBeLessThanOrEqual(limit);
      console.log(`request limit across 3 gateways: 60 invokes, ${admitted} admitted of 30 left, the rest 429`);
    } finally {
      await db.end();
    }
  });
});
