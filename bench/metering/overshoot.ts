// The monthly request limit under a race: three gateway processes against one PostgreSQL,
// 200 concurrent callers invoking until they are refused. The limit holds when the requests
// admitted never pass what was left of it (overshoot), and is fair when few are refused
// before it is reached (requests leased by one gateway and unused when another refused).
import pg from 'pg';
import type { Agent, Deployment } from '../../lib/contracts/index.js';
import { TIER_LIMITS } from '../../lib/contracts/index.js';
import { echoVersion } from '../../test/helpers/fixtures.js';
import { startGatewayProcess, startPlatform } from '../../test/helpers/platform.js';
import { connectTestPostgres } from '../../test/helpers/postgres.js';

export interface OvershootFigures {
  limit: number;
  left: number;
  callers: number;
  gateways: number;
  admitted: number;
  refused: number;
  overshoot: number;
  seconds: number;
  /** Requests of the limit never admitted: leased by one gateway while another refused. */
  leftUnused: number;
  /** What the shared counter holds after the gateways stopped and gave back their unused leases. */
  leasedAfterStop: number;
}

export async function measureOvershoot(opts: { callers?: number; left?: number } = {}): Promise<OvershootFigures> {
  const callers = opts.callers ?? 200;
  const left = opts.left ?? 5_000;
  const server = await connectTestPostgres('the overshoot benchmark');
  if (!server) throw new Error('the overshoot benchmark needs PostgreSQL at 127.0.0.1:5432');
  const databaseUrl = await server.createDatabase('webhost_bench_limit');
  const platform = await startPlatform({ env: { DATABASE_URL: databaseUrl } });
  const db = new pg.Client({ connectionString: databaseUrl });
  await db.connect();
  try {
    const token = await platform.token('racer');
    const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
    const api = async <T>(method: string, path: string, body?: unknown) =>
      (await (
        await fetch(`${platform.apiUrl}${path}`, {
          method,
          headers,
          body: body === undefined ? null : JSON.stringify(body),
        })
      ).json()) as T;
    const agent = await api<Agent>('POST', '/v1/agents', { name: 'racer', runtime: 'local' });
    const { deploymentId } = await api<{ deploymentId: string }>('POST', `/v1/agents/${agent.id}/deployments`, {
      source: echoVersion('v1'),
    });
    for (;;) {
      const d = await api<Deployment>('GET', `/v1/deployments/${deploymentId}`);
      if (d.status === 'live') break;
      if (d.status === 'failed') throw new Error('deploy failed');
      await new Promise((r) => setTimeout(r, 200));
    }
    const limit = TIER_LIMITS.free.requestsPerPeriod!;
    const period = new Date().toISOString().slice(0, 7);
    await db.query(`update users set tier = 'free' where id = 'racer'`);
    await db.query(
      `insert into request_counters (owner_id, period, leased) values ('racer', $1, $2)
       on conflict (owner_id, period) do update set leased = $2`,
      [period, limit - left],
    );
    const gateways = await Promise.all(
      [1, 2, 3].map(() => startGatewayProcess(platform, { DATABASE_URL: databaseUrl })),
    );
    let admitted = 0;
    let refused = 0;
    const started = performance.now();
    await Promise.all(
      Array.from({ length: callers }, async (_, caller) => {
        // each caller goes on until it has been refused three times in a row
        for (let i = 0, refusedInARow = 0; refusedInARow < 3; i++) {
          const res = await fetch(`${gateways[(caller + i) % 3]!.url}/v1/agents/${agent.id}/invoke`, {
            method: 'POST',
            headers,
            body: JSON.stringify({ input: i }),
          });
          await res.arrayBuffer();
          if (res.status === 200) {
            admitted++;
            refusedInARow = 0;
          } else if (res.status === 429) {
            refused++;
            refusedInARow++;
          } else throw new Error(`unexpected ${res.status}`);
        }
      }),
    );
    const seconds = (performance.now() - started) / 1000;
    await Promise.all(gateways.map((g) => g.stop()));
    const { rows } = await db.query(`select leased from request_counters where owner_id = 'racer' and period = $1`, [
      period,
    ]);
    const leased = Number(rows[0].leased);
    return {
      limit,
      left,
      callers,
      gateways: 3,
      admitted,
      refused,
      overshoot: Math.max(0, admitted - left),
      seconds,
      leftUnused: Math.max(0, left - admitted),
      leasedAfterStop: leased,
    };
  } finally {
    await db.end();
    await platform.stop();
    await server.close();
  }
}

if (import.meta.filename === process.argv[1]) {
  const f = await measureOvershoot();
  console.log(JSON.stringify(f, null, 2));
}
