// Gateway overhead: invoke through the gateway vs. calling the same workerd agent directly,
// in one run on this machine. Starts the real platform (as `npm start` does) on free ports,
// deploys examples/echo, then measures
//   1. latency at concurrency 1 (sequential requests, high-resolution timer): p50/p99 added
//   2. throughput and latency at 100 connections with autocannon: ratio of requests/s
// The baseline (direct) and the gateway are measured alternately, warm, same body.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { Agent as HttpAgent, request } from 'undici';
import { invokeTokens, loadMasterKey } from '../lib/auth/platform-keys.js';
import type { Agent, Deployment } from '../lib/contracts/index.js';
import { INVOKE_TOKEN_HEADER } from '../lib/runtime/shim/index.js';
import { echoVersion } from '../test/helpers/fixtures.js';
import { startPlatform } from '../test/helpers/platform.js';
import { connectTestPostgres } from '../test/helpers/postgres.js';

const SEQUENTIAL = Number(process.env.BENCH_SEQUENTIAL ?? 3000);
const DURATION_S = Number(process.env.BENCH_DURATION ?? 10);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 100);

// BENCH_STATE=postgres: the platform's state on the PostgreSQL server (another process)
// instead of in-process PGlite, whose queries run on the api's and gateway's own thread.
const pgServer = process.env.BENCH_STATE === 'postgres' ? await connectTestPostgres('the gateway benchmark') : null;
if (process.env.BENCH_STATE === 'postgres' && !pgServer) throw new Error('BENCH_STATE=postgres needs PostgreSQL');
const platform = await startPlatform(
  pgServer ? { env: { DATABASE_URL: await pgServer.createDatabase('webhost_bench_gateway') } } : {},
);
try {
  const token = await platform.token('bench');
  const auth = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
  const api = async <T>(method: string, path: string, body?: unknown) =>
    (await (
      await fetch(`${platform.apiUrl}${path}`, {
        method,
        headers: auth,
        body: body === undefined ? null : JSON.stringify(body),
      })
    ).json()) as T;

  const agent = await api<Agent>('POST', '/v1/agents', { name: 'bench-echo', runtime: 'local' });
  const { deploymentId } = await api<{ deploymentId: string }>('POST', `/v1/agents/${agent.id}/deployments`, {
    source: echoVersion('bench'),
  });
  let deployment: Deployment;
  for (;;) {
    deployment = await api<Deployment>('GET', `/v1/deployments/${deploymentId}`);
    if (deployment.status === 'live') break;
    if (deployment.status === 'failed') throw new Error(`deploy failed: ${deployment.error?.message}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  // The workerd URL of the live version, from the local runtime's control API.
  const controlToken = readFileSync(join(platform.dataDir, 'runtime', 'control-token'), 'utf8').trim();
  const endpoint = (await (
    await fetch(
      `http://127.0.0.1:${platform.ports.runtime}/versions/${encodeURIComponent(deployment.providerRef!)}/endpoint`,
      {
        headers: { authorization: `Bearer ${controlToken}` },
      },
    )
  ).json()) as { url: string };

  const targets = {
    direct: {
      url: new URL('/invocations', endpoint.url).toString(),
      // as the gateway calls it: with the deployment's invoke token, which the shim checks
      headers: {
        'content-type': 'application/json',
        'x-webhost-session-id': 'bench',
        [INVOKE_TOKEN_HEADER]: invokeTokens(loadMasterKey({}, platform.dataDir))(deployment.id),
      },
      body: JSON.stringify({ input: 'hello' }),
    },
    gateway: {
      url: `${platform.gatewayUrl}/v1/agents/${agent.id}/invoke`,
      headers: auth,
      body: JSON.stringify({ input: 'hello', sessionId: 'bench' }),
    },
  };

  // Sanity: both answer 200 with the same agent output.
  for (const [name, t] of Object.entries(targets)) {
    const res = await fetch(t.url, { method: 'POST', headers: t.headers, body: t.body });
    if (res.status !== 200) throw new Error(`${name} answered ${res.status}: ${await res.text()}`);
  }

  const dispatcher = new HttpAgent({ connections: 1, pipelining: 1 });
  type Target = { url: string; headers: Record<string, string>; body: string };
  async function sequential(t: Target, n: number): Promise<number[]> {
    const times: number[] = [];
    for (let i = 0; i < n; i++) {
      const start = performance.now();
      const res = await request(t.url, { method: 'POST', headers: t.headers, body: t.body, dispatcher });
      await res.body.arrayBuffer();
      if (res.statusCode !== 200) throw new Error(`status ${res.statusCode}`);
      times.push(performance.now() - start);
    }
    return times.sort((a, b) => a - b);
  }
  const pct = (sorted: number[], p: number) =>
    sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;

  async function load(t: Target, duration: number) {
    return autocannon({
      url: t.url,
      method: 'POST',
      headers: t.headers,
      body: t.body,
      connections: CONNECTIONS,
      duration,
    });
  }

  console.log(`\nwarming up…`);
  await sequential(targets.direct, 300);
  await sequential(targets.gateway, 300);
  await load(targets.direct, 2);
  await load(targets.gateway, 2);

  console.log(`latency at concurrency 1 (${SEQUENTIAL} sequential requests each)…`);
  const seqDirect = await sequential(targets.direct, SEQUENTIAL);
  const seqGateway = await sequential(targets.gateway, SEQUENTIAL);

  // Two interleaved rounds, so drift on a shared 2-core machine hits both sides alike.
  console.log(`throughput at ${CONNECTIONS} connections (2 interleaved rounds of ${DURATION_S} s each)…`);
  const rounds: { direct: autocannon.Result; gateway: autocannon.Result }[] = [];
  for (let i = 0; i < 2; i++)
    rounds.push({ direct: await load(targets.direct, DURATION_S), gateway: await load(targets.gateway, DURATION_S) });
  const mean = (side: 'direct' | 'gateway', f: (r: autocannon.Result) => number) =>
    rounds.reduce((n, r) => n + f(r[side]), 0) / rounds.length;
  const loadDirect = {
    rps: mean('direct', (r) => r.requests.average),
    p50: mean('direct', (r) => r.latency.p50),
    p99: mean('direct', (r) => r.latency.p99),
  };
  const loadGateway = {
    rps: mean('gateway', (r) => r.requests.average),
    p50: mean('gateway', (r) => r.latency.p50),
    p99: mean('gateway', (r) => r.latency.p99),
  };
  const errorsOf = (side: 'direct' | 'gateway') => rounds.reduce((n, r) => n + r[side].errors + r[side].non2xx, 0);
  for (const side of ['direct', 'gateway'] as const) {
    for (const [i, r] of rounds.entries()) {
      if (r[side].errors + r[side].non2xx === 0) continue;
      const codes = JSON.stringify(r[side].statusCodeStats);
      console.log(
        `  ${side} round ${i + 1}: ${r[side].errors} errors (${r[side].timeouts} timeouts), statuses ${codes}`,
      );
    }
  }
  for (const [i, r] of rounds.entries()) {
    console.log(
      `  round ${i + 1}: direct ${r.direct.requests.average.toFixed(0)} req/s, gateway ${r.gateway.requests.average.toFixed(0)} req/s (${((r.gateway.requests.average / r.direct.requests.average) * 100).toFixed(1)} %)`,
    );
  }

  const ms = (v: number) => `${v.toFixed(3)} ms`;
  const rows = [
    ['', 'direct (workerd)', 'gateway', 'added / ratio'],
    ['c=1 p50', ms(pct(seqDirect, 50)), ms(pct(seqGateway, 50)), ms(pct(seqGateway, 50) - pct(seqDirect, 50))],
    ['c=1 p99', ms(pct(seqDirect, 99)), ms(pct(seqGateway, 99)), ms(pct(seqGateway, 99) - pct(seqDirect, 99))],
    [
      `c=${CONNECTIONS} req/s`,
      loadDirect.rps.toFixed(0),
      loadGateway.rps.toFixed(0),
      `${((loadGateway.rps / loadDirect.rps) * 100).toFixed(1)} % of direct`,
    ],
    [
      `c=${CONNECTIONS} p50`,
      `${loadDirect.p50.toFixed(1)} ms`,
      `${loadGateway.p50.toFixed(1)} ms`,
      `${(loadGateway.p50 - loadDirect.p50).toFixed(1)} ms`,
    ],
    [
      `c=${CONNECTIONS} p99`,
      `${loadDirect.p99.toFixed(1)} ms`,
      `${loadGateway.p99.toFixed(1)} ms`,
      `${(loadGateway.p99 - loadDirect.p99).toFixed(1)} ms`,
    ],
  ];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  console.log(
    `\ngateway benchmark (${new Date().toISOString()}, node ${process.version}, state ${pgServer ? 'PostgreSQL' : 'PGlite'}, errors or non-2xx: direct ${errorsOf('direct')}, gateway ${errorsOf('gateway')})`,
  );
  for (const r of rows) console.log(r.map((c, i) => c.padEnd(widths[i]!)).join('  '));
  await dispatcher.close();
} finally {
  // a limit that stopped the version under load would make the figures meaningless: say so
  const stopped = platform
    .output()
    .split('\n')
    .filter((l) => l.includes('stopping') && !l.includes('no longer serves'));
  if (stopped.length) console.log(`\nthe local runtime stopped a version during the run:\n${stopped.join('\n')}`);
  await platform.stop();
  await pgServer?.close();
}
