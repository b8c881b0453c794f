// The measuring loop of `npm run bench:store`, shared by the SQL run (bench/store.ts) and the
// Convex run (bench/convex-store.run.ts, under vitest because convex-test needs Vite).
import type { TelemetryEvent } from '../lib/contracts/index.js';
import { newId } from '../lib/ids.js';
import type { Store } from '../lib/store/index.js';

export interface Row {
  adapter: string;
  rows: number;
  ingestEventsPerSec: number;
  listByAgentPerSec: number;
  getByIdPerSec: number;
}

/**
 * Seeds and measures one store. `seedDeployments(agentIds, ownerId, count, offset)` adds
 * `count` failed deployments spread over the agents, numbered from `offset` (the rows
 * already there): the reads are what is measured, not the seeding.
 */
export async function measure(
  adapter: string,
  store: Store,
  sizes: number[],
  seedDeployments: (agentIds: string[], ownerId: string, count: number, offset: number) => Promise<void>,
  opts: { batch: number; reads: number },
): Promise<Row[]> {
  const owner = newId('usr');
  const now = new Date();
  await store.ensureUser(owner, now);
  // Agents with one live deployment each, so telemetry has somewhere to go.
  const agents: { agentId: string; deploymentId: string }[] = [];
  for (let i = 0; i < 10; i++) {
    const agent = await store.createAgent({
      id: newId('agt'),
      ownerId: owner,
      name: `bench-${i}`,
      runtime: 'local',
      now,
    });
    const deploymentId = newId('dep');
    await store.createDeployment({
      id: deploymentId,
      ownerId: owner,
      agentId: agent.id,
      workflowId: `deploy-${deploymentId}`,
      source: { type: 'files', entry: 'i.js', files: { 'i.js': 'x' } },
      now,
    });
    await store.transitionDeployment({ ownerId: owner, deploymentId, to: 'failed', now });
    agents.push({ agentId: agent.id, deploymentId });
  }
  const results: Row[] = [];
  let telemetryRows = 0;
  let deploymentRows = agents.length;
  for (const size of sizes) {
    // Grow the deployments table to `size` rows (bulk seed: the measured part is the reads).
    const missing = size - deploymentRows;
    if (missing > 0) {
      await seedDeployments(
        agents.map((a) => a.agentId),
        owner,
        missing,
        deploymentRows,
      );
      deploymentRows = size;
    }
    // Grow raw telemetry to `size` rows through the port, timing the ingestion.
    const toIngest = size - telemetryRows;
    const started = performance.now();
    for (let done = 0; done < toIngest; done += opts.batch) {
      const target = agents[(done / opts.batch) % agents.length]!;
      const events: TelemetryEvent[] = Array.from({ length: Math.min(opts.batch, toIngest - done) }, (_, i) => ({
        id: `${newId('req')}${i}`,
        at: new Date(Date.UTC(2026, 10, 1) + (telemetryRows + done + i) * 1000).toISOString(),
        kind: 'invocation',
        ok: i % 10 !== 0,
        computeMs: i,
      }));
      await store.ingestTelemetry({ ownerId: owner, ...target, events });
    }
    const ingestSeconds = (performance.now() - started) / 1000;
    telemetryRows = size;

    let t = performance.now();
    for (let i = 0; i < opts.reads; i++)
      await store.listDeployments(owner, agents[i % agents.length]!.agentId, { limit: 20 });
    const listPerSec = opts.reads / ((performance.now() - t) / 1000);
    t = performance.now();
    for (let i = 0; i < opts.reads; i++) await store.getDeployment(owner, agents[i % agents.length]!.deploymentId);
    const getPerSec = opts.reads / ((performance.now() - t) / 1000);
    results.push({
      adapter,
      rows: size,
      ingestEventsPerSec: toIngest / ingestSeconds,
      listByAgentPerSec: listPerSec,
      getByIdPerSec: getPerSec,
    });
    console.log(`  ${adapter} at ${size} rows done`);
  }
  return results;
}

export function printTable(rows: Row[]): void {
  const header = ['adapter', 'rows', 'ingest events/s', 'list by agent/s', 'get by id/s'];
  const table = [
    header,
    ...rows.map((r) => [
      r.adapter,
      String(r.rows),
      r.ingestEventsPerSec.toFixed(0),
      r.listByAgentPerSec.toFixed(0),
      r.getByIdPerSec.toFixed(0),
    ]),
  ];
  const widths = header.map((_, i) => Math.max(...table.map((r) => r[i]!.length)));
  console.log('');
  for (const r of table) console.log(r.map((c, i) => c.padStart(widths[i]!)).join('  '));
}
