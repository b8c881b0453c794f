import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Agent, Deployment, FilesSource } from '../../lib/contracts/index.js';
import { startDevServer, type DevServer } from '../../lib/temporal/dev-server.js';
import { echoVersion, UNHEALTHY_AGENT } from '../helpers/fixtures.js';
import { apiClient, heldVersions, seconds, waitFor } from '../helpers/faults.js';
import { startSplitPlatform, type SplitPlatform } from '../helpers/platform.js';
import { freePort } from '../helpers/ports.js';
import { connectTestPostgres } from '../helpers/postgres.js';

// Two worker processes run 20 deploys (4 agents, 5 deploys each, one after another per agent;
// every fourth an agent whose health check fails, so its compensation runs) while a worker is
// SIGKILLed at random moments and a replacement started. Temporal hands the dead worker's
// workflow tasks to the other worker at once and its activities after their heartbeat timeouts
// (20 s for builds and provider calls), so every deploy ends — live, or failed with its version removed.
const server = await connectTestPostgres('the worker-kill fault suite');

const AGENTS = 4;
const DEPLOYS_PER_AGENT = 5;
const MAX_KILLS = 3;
/** Kills happen while deploys run, within this long from the first one. */
const KILL_WINDOW_MS = 60_000;
/** How long every deploy gets to end after the last kill: ample beside the 20 s heartbeat timeouts, on a loaded machine. */
const CONVERGE_MS = 200_000;

describe.runIf(server !== null)('a worker SIGKILLed at random moments of 20 deploys', () => {
  let temporal: DevServer;
  let platform: SplitPlatform;

  beforeAll(async () => {
    temporal = await startDevServer({ port: await freePort(), uiPort: null });
    platform = await startSplitPlatform({
      databaseUrl: await server!.createDatabase('webhost_faults_kill'),
      temporalAddress: temporal.address,
      workers: 2,
      gateways: 0,
    });
  }, 180_000);
  afterAll(async () => {
    await platform?.stop();
    await temporal?.stop();
    await server?.close();
  });

  it('every deploy converges (live, or failed and compensated); no pointer at a non-live deployment; no orphan version', async () => {
    const seed = Number(process.env.FAULTS_SEED ?? Date.now() % 1_000_000);
    console.log(`worker-kill: seed ${seed} (FAULTS_SEED=${seed} repeats this run's kill moments)`);
    // when each kill comes (after the previous one) and which of the live workers it hits
    const plan = fc.sample(fc.record({ afterMs: fc.integer({ min: 2_000, max: 6_000 }), pick: fc.nat() }), {
      seed,
      numRuns: MAX_KILLS,
    });
    const api = apiClient(platform.apiUrl, await platform.token('worker-kill'));

    const agents = await Promise.all(
      Array.from({ length: AGENTS }, (_, i) =>
        api<Agent>('POST', '/v1/agents', { name: `kill-${i}`, runtime: 'local' }),
      ),
    );
    const deployments: { agentId: string; id: string; healthy: boolean }[] = [];
    const startedAt = Date.now();
    let running = true;

    // each agent's deploys one after another (a second one in flight would be a 409)
    const chains = agents.map(async (agent, a) => {
      for (let d = 0; d < DEPLOYS_PER_AGENT; d++) {
        // one unhealthy deploy per agent, never its first (so every agent has a live one)
        const healthy = d !== (a % (DEPLOYS_PER_AGENT - 1)) + 1;
        const source: FilesSource = healthy ? echoVersion(`a${a}-d${d}`) : UNHEALTHY_AGENT;
        const { deploymentId } = await api<{ deploymentId: string }>('POST', `/v1/agents/${agent.id}/deployments`, {
          source,
        });
        deployments.push({ agentId: agent.id, id: deploymentId, healthy });
        await waitFor(
          `deployment ${deploymentId} to end`,
          async () => isFinal((await api<Deployment>('GET', `/v1/deployments/${deploymentId}`)).status),
          CONVERGE_MS + KILL_WINDOW_MS,
        ).catch(async (err: Error) => {
          // where it stuck, for whoever reads the failure
          const stuck = await api<Deployment>('GET', `/v1/deployments/${deploymentId}`).catch(() => null);
          const logs = platform.workers.map((w, i) => `worker ${i}:\n${w.output().slice(-3000)}`).join('\n');
          throw new Error(`${err.message}; it is at ${JSON.stringify(stuck)}\n${logs}`);
        });
      }
    });

    // the killer: a random worker, at a random moment, then its replacement
    let kills = 0;
    const killer = (async () => {
      for (const { afterMs, pick } of plan) {
        await new Promise((r) => setTimeout(r, afterMs));
        if (!running || Date.now() - startedAt > KILL_WINDOW_MS) return;
        const alive = platform.workers.filter((w) => !w.exited());
        await alive[pick % alive.length]!.kill();
        kills++;
        console.log(`worker-kill: SIGKILLed a worker at ${seconds(Date.now() - startedAt)}`);
        await platform.startWorker();
      }
    })();
    await Promise.all(chains).finally(() => (running = false));
    await killer;
    const convergedAfter = Date.now() - startedAt;

    // every deployment is final
    const final = await Promise.all(deployments.map((d) => api<Deployment>('GET', `/v1/deployments/${d.id}`)));
    const byId = new Map(final.map((d) => [d.id, d]));
    const bad = final.filter((d) => !isFinal(d.status));
    expect(bad.map((d) => `${d.id} ${d.status}`)).toEqual([]);
    const live = final.filter((d) => d.status === 'live').length;
    const failed = final.length - live;
    // a healthy deploy goes live despite the kills; an unhealthy one fails its health check
    for (const d of deployments) {
      expect(byId.get(d.id)!.status, `${d.id} (${d.healthy ? 'healthy' : 'unhealthy'})`).toBe(
        d.healthy ? 'live' : 'failed',
      );
    }

    // every agent's pointer is at a live deployment, the one its runtime serves
    let badPointers = 0;
    let orphans = 0;
    for (const agent of agents) {
      const now = await api<Agent>('GET', `/v1/agents/${agent.id}`);
      const active = now.activeDeploymentId ? byId.get(now.activeDeploymentId) : undefined;
      if (active?.status !== 'live') badPointers++;
      const held = await heldVersions(platform, agent.id);
      expect(held.active, `what ${agent.id} serves at the runtime`).toBe(active?.providerRef ?? null);
      // held, but its deployment failed, was canceled, or is not the agent's at all
      const orphan = held.items.filter((v) => byId.get(v.deploymentId)?.status !== 'live');
      orphans += orphan.length;
      expect(
        orphan.map((v) => v.versionRef),
        `orphan versions of ${agent.id}`,
      ).toEqual([]);
    }
    expect(badPointers).toBe(0);
    // the deploys outlast the kills (each agent's unhealthy deploy alone takes 15 s of health checks)
    expect(kills).toBeGreaterThanOrEqual(2);
    console.log(
      `worker-kill: ${final.length} deploys, ${kills} kills, ${final.length - bad.length} converged (${live} live, ${failed} failed) in ${seconds(convergedAfter)}, ${badPointers} bad pointers, ${orphans} orphan versions`,
    );
    expect(final).toHaveLength(AGENTS * DEPLOYS_PER_AGENT);
  }, 330_000);
});

const isFinal = (status: string) => status === 'live' || status === 'failed' || status === 'canceled';
