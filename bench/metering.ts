// `npm run bench:metering`: the metering, limits and billing figures of issue 9, in one run,
// each beside its aim and, where there is one, a baseline measured in the same run.
//   1. signed telemetry ingestion through the api (HTTP, batches of 100), PGlite and PostgreSQL
//   2. the gateway with metering and limits on, against calling workerd directly (bench/gateway.ts)
//   3. the request limit raced by 200 callers through three gateway processes
//   4. the billing-period close of 10,000 users against a fake Lemon Squeezy
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { measureBillingClose } from './metering/billing-close.js';
import { measureIngestion } from './metering/ingest.js';
import { measureOvershoot } from './metering/overshoot.js';
import { connectTestPostgres } from '../test/helpers/postgres.js';

const results: string[] = [];
const say = (line: string) => {
  console.log(line);
  results.push(line);
};
const n = (v: number, digits = 0) => v.toLocaleString('en-US', { maximumFractionDigits: digits });

console.log('1/4 signed telemetry ingestion…');
const pglite = await measureIngestion({ name: 'PGlite (in memory)', config: { kind: 'pglite', dataDir: undefined } });
const server = await connectTestPostgres('the ingestion benchmark on PostgreSQL');
if (!server) throw new Error('bench:metering needs PostgreSQL at 127.0.0.1:5432 (TEST_POSTGRES_URL)');
const postgres = await measureIngestion({
  name: 'PostgreSQL',
  config: { kind: 'postgres', url: await server.createDatabase('webhost_bench_ingest') },
  batches: 1000,
});
await server.close();
for (const f of [pglite, postgres])
  say(
    `ingestion  ${f.store.padEnd(20)} ${n(f.eventsPerSecond).padStart(7)} events/s  (${n(f.events)} events in batches of ${f.batchSize}, ${f.senders} senders, ${f.refused} refused)${f.store === 'PostgreSQL' ? '   aim ≥ 50,000/s' : ''}`,
  );

console.log('\n2/4 gateway with metering and limits, against workerd directly (bench/gateway.ts)…');
const gatewayOut = await new Promise<string>((resolve, reject) => {
  const child = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'gateway.ts')], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: process.env,
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => {
    process.stdout.write(d);
    out += d.toString();
  });
  child.once('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`bench/gateway.ts exited with ${code}`))));
});
const table = gatewayOut.slice(gatewayOut.indexOf('gateway benchmark ('));
for (const line of table.split('\n').filter((l) => /^c=/.test(l)))
  say(
    `gateway    ${line}${line.startsWith('c=1 p50') ? '   aim ≤ 0.5 ms added' : line.includes('req/s') ? '   aim ≥ 80 %' : ''}`,
  );

console.log('\n3/4 the request limit, raced through three gateway processes…');
const race = await measureOvershoot();
say(
  `limit      ${race.callers} callers, ${race.gateways} gateways, ${n(race.left)} requests left of ${n(race.limit)}: ${n(race.admitted)} admitted, ${n(race.refused)} refused, overshoot ${race.overshoot} (${((race.overshoot / race.limit) * 100).toFixed(3)} % of the limit; aim ≤ 0.1 %), ${n(race.leftUnused)} left unused, ${race.seconds.toFixed(1)} s`,
);

console.log('\n4/4 billing-period close of 10,000 users…');
const close = await measureBillingClose({ users: 10_000 });
say(
  `billing    ${n(close.users)} users closed in ${close.seconds.toFixed(1)} s (aim ≤ 120 s): ${n(close.usersReported)} reported, ${n(close.reportsSent)} usage records sent, ${close.duplicateReports} duplicates (aim 0)`,
);

console.log(
  `\nbench:metering (${new Date().toISOString()}, node ${process.version}, ${process.env.CI ? 'CI' : 'local'})`,
);
for (const line of results) console.log(line);
