// Deploy and rollback speed: how long a deploy takes to go live and a rollback to serve, through
// the real platform (as `npm start` runs it) on free ports and an empty data folder, against
// baselines measured in the same run straight through the local runtime provider:
//   1. files source → live: N deploys of examples/echo, each with its own version string,
//      from the POST until GET /v1/deployments/:id says live (read on each change /v1/events announces), and until
//      the gateway serves the new version. Baseline: the same bundle through LocalProvider
//      (deployVersion + healthCheck + activateVersion), with no Temporal, store or build.
//   2. a project with dependencies (examples/ai-sdk) → live: cold (empty dependency cache and
//      npm download cache: npm ci from the registry), then warm (cached node_modules, no npm).
//   3. rollback → the gateway serving the target: N rollbacks alternating between two live
//      deployments, from the POST until an invoke (sent every ~5 ms) answers with the target's
//      version. Baseline: LocalProvider.activateVersion of the same two versions.
// It prints figures, not verdicts: no timing fails the run. It exits non-zero only when
// something fails functionally (a deploy fails, a rollback never serves, a wait times out).
import { existsSync, lstatSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { Client, Connection, type WorkflowHandle } from '@temporalio/client';
import { EventSourceParserStream } from 'eventsource-parser/stream';
import { invokeTokens, loadMasterKey } from '../lib/auth/platform-keys.js';
import { bundleFiles } from '../lib/build/bundle.js';
import { buildContained } from '../lib/build/contained.js';
import { treeBytes } from '../lib/build/deps.js';
import { buildConfigFromEnv } from '../lib/config.js';
import type { Agent, Deployment, DeploymentSource } from '../lib/contracts/index.js';
import { DEFAULT_LIMITS } from '../lib/limits.js';
import { LocalProvider } from '../lib/runtime/providers/local.js';
import { echoVersion } from '../test/helpers/fixtures.js';
import { startPlatform } from '../test/helpers/platform.js';
import { rollbackWorkflowId } from '../workflows/rollback/config.js';

const DEPLOYS = Number(process.env.BENCH_DEPLOYS ?? 10);
const ROLLBACKS = Number(process.env.BENCH_ROLLBACKS ?? 10);
const WARM_DEPLOYS = Number(process.env.BENCH_WARM_DEPLOYS ?? 4);
/** The longest a deploy goes unread when no change is announced (the feed is the usual wake-up). */
const POLL_MS = 1000;
const INVOKE_GAP_MS = 5;
/** The local runtime's default: a version that stopped serving keeps running this long. */
const DRAIN_MS = 30_000;
const TIMEOUT = {
  request: 30_000,
  filesDeploy: 60_000,
  // npm ci from the registry, then the bundle: the build's own limit is 60 s
  depsDeploy: 240_000,
  served: 15_000,
  rollback: 15_000,
  slotFree: 15_000,
};
const AIMS = { filesLiveP50: 500, depsWarm: 5_000, rollbackP50: 300 };

const root = resolve(import.meta.dirname, '..');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const pct = (values: number[], p: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
};
const ms = (v: number) => (v >= 10_000 ? `${(v / 1000).toFixed(1)} s` : `${v.toFixed(0)} ms`);
const ratio = (a: number, b: number) => `${(a / b).toFixed(1)}×`;

/** A project folder as a files source, read the way `webhost deploy <dir>` reads it (scripts/webhost.ts). */
function folderSource(dir: string): DeploymentSource {
  const files: Record<string, string> = {};
  const walk = (d: string) => {
    for (const name of readdirSync(d).sort()) {
      if (name === 'node_modules' || name.startsWith('.')) continue;
      const p = join(d, name);
      const st = lstatSync(p);
      if (st.isDirectory()) walk(p);
      else if (st.isFile()) files[relative(dir, p).split('\\').join('/')] = readFileSync(p, 'utf8');
    }
  };
  walk(dir);
  // package.json names the entry, as it does for `webhost deploy`
  return { type: 'files', files };
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows
    .map((r) =>
      r
        .map((c, i) => c.padEnd(widths[i]!))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

type History = Awaited<ReturnType<WorkflowHandle['fetchHistory']>>;
type Timestamp = { seconds?: { toNumber(): number } | number | null; nanos?: number | null } | null | undefined;
const tsMs = (t: Timestamp) =>
  t ? (typeof t.seconds === 'number' ? t.seconds : (t.seconds?.toNumber() ?? 0)) * 1000 + (t.nanos ?? 0) / 1e6 : 0;

/**
 * A workflow run as consecutive phases, from its history's event times: the request until the
 * run started, then for each activity the wait before it was scheduled (workflow tasks), its
 * wait on the task queue and its run, and finally until the client saw the outcome. Events
 * after `seenAt` (epoch ms; a rollback's audit, after the gateway already serves) are left out.
 */
function phases(history: History, sentAt: number, seenAt: number): [string, number][] {
  const out: [string, number][] = [];
  const events = history.events ?? [];
  const started = tsMs(events[0]?.eventTime);
  out.push(['request → workflow started (api, Temporal start)', started - sentAt]);
  let prev = started;
  const seen = new Map<string, number>();
  const activities = new Map<string, { name: string; scheduled: number; started?: number }>();
  for (const e of events) {
    const at = tsMs(e.eventTime);
    const id = String(e.eventId);
    if (e.activityTaskScheduledEventAttributes) {
      const base = e.activityTaskScheduledEventAttributes.activityType?.name ?? '?';
      const n = (seen.get(base) ?? 0) + 1;
      seen.set(base, n);
      activities.set(id, { name: n > 1 ? `${base} #${n}` : base, scheduled: at });
    } else if (e.activityTaskStartedEventAttributes) {
      const a = activities.get(String(e.activityTaskStartedEventAttributes.scheduledEventId));
      if (a) a.started = at;
    } else if (e.activityTaskCompletedEventAttributes) {
      const a = activities.get(String(e.activityTaskCompletedEventAttributes.scheduledEventId));
      if (!a || a.started === undefined || at > seenAt) continue;
      out.push([`  workflow task → schedule ${a.name}`, a.scheduled - prev]);
      out.push([`  ${a.name}: waits on its task queue`, a.started - a.scheduled]);
      out.push([`  ${a.name}: runs`, at - a.started]);
      prev = at;
    }
  }
  out.push(['→ the client sees it', seenAt - prev]);
  return out;
}

/** p50 of each phase over runs, in the order phases first appear. */
function phaseTable(runs: [string, number][][]): string[][] {
  const byLabel = new Map<string, number[]>();
  for (const run of runs) for (const [label, v] of run) byLabel.set(label, [...(byLabel.get(label) ?? []), v]);
  const rows = [...byLabel].map(([label, v]) => [`  ${label}`, ms(pct(v, 50))]);
  const sum = (pick: (label: string) => boolean) =>
    pct(
      runs.map((r) => r.filter(([l]) => pick(l)).reduce((n, [, v]) => n + v, 0)),
      50,
    );
  rows.push(
    ['  in all (p50 of each run’s sum): activities running', ms(sum((l) => l.endsWith(': runs')))],
    ['  waiting on task queues', ms(sum((l) => l.endsWith('task queue')))],
    ['  workflow tasks between activities', ms(sum((l) => l.includes('workflow task')))],
  );
  return rows;
}

const platform = await startPlatform({ env: { LOCAL_RUNTIME_DRAIN_MS: String(DRAIN_MS) } });
const provider = new LocalProvider({
  controlUrl: `http://127.0.0.1:${platform.ports.runtime}`,
  token: readFileSync(join(platform.dataDir, 'runtime', 'control-token'), 'utf8').trim(),
  invokeToken: invokeTokens(loadMasterKey(process.env, platform.dataDir)),
});
let temporalConnection: Connection | null = null;
/** Where the contained builds of section 1's reference row work (the platform's data folder stays its own). */
const buildScratchDir = mkdtempSync(join(tmpdir(), 'wh-bench-build-'));
const started = performance.now();
const load0 = loadavg();
let failed = false;
try {
  temporalConnection = await Connection.connect({ address: `127.0.0.1:${platform.ports.temporal}` });
  const temporalClient = new Client({ connection: temporalConnection });
  const historyOf = (workflowId: string) => temporalClient.workflow.getHandle(workflowId).fetchHistory();
  const token = await platform.token('bench');
  const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };

  async function api<T>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T }> {
    const res = await fetch(`${platform.apiUrl}${path}`, {
      method,
      headers,
      body: body === undefined ? null : JSON.stringify(body),
      signal: AbortSignal.timeout(TIMEOUT.request),
    });
    return { status: res.status, body: (await res.json()) as T };
  }
  async function apiOk<T>(method: string, path: string, body?: unknown): Promise<T> {
    const r = await api<T & { error?: { code: string; message: string } }>(method, path, body);
    if (r.status >= 300)
      throw new Error(`${method} ${path}: ${r.status} ${r.body.error?.code}: ${r.body.error?.message}`);
    return r.body;
  }
  /** One JSON invoke through the gateway: what it answered, or null when nothing serves yet. */
  async function invoke(agentId: string): Promise<{ deploymentId: string; output: unknown } | null> {
    const res = await fetch(`${platform.gatewayUrl}/v1/agents/${agentId}/invoke`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ input: 'bench', sessionId: 'bench' }),
      signal: AbortSignal.timeout(TIMEOUT.request),
    });
    const body = (await res.json()) as { deploymentId: string; output: unknown };
    return res.status === 200 ? body : null;
  }
  const echoed = (r: { output: unknown } | null) => (r?.output as { version?: string } | undefined)?.version;

  interface DeployTiming {
    deploymentId: string;
    /** Client clock (epoch ms) when the POST was sent, to line up with the step log's timestamps. */
    sentAt: number;
    accepted: number;
    live: number;
    served: number;
    deployment: Deployment;
  }

  // Changes to the bench user's deployments, as the dashboard learns of them (`GET /v1/events`):
  // a deploy is read when it changed, not polled, so watching it adds no load of its own.
  const changed = new Map<string, () => void>();
  const feed = new AbortController();
  const events = await fetch(`${platform.apiUrl}/v1/events`, { headers, signal: feed.signal });
  void (async () => {
    const stream = events.body!.pipeThrough(new TextDecoderStream()).pipeThrough(new EventSourceParserStream());
    for await (const ev of stream) {
      const id = ev.event === 'change' ? (JSON.parse(ev.data) as { id: string }).id : null;
      for (const [waiting, wake] of changed) if (id === null || id === waiting) wake();
    }
  })().catch(() => undefined);
  /** Resolves on the next change of the deployment (or a reset of the feed), or after `ms` at the latest. */
  const nextChange = (deploymentId: string, ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        changed.delete(deploymentId);
        resolve();
      }
      changed.set(deploymentId, done);
    });

  /**
   * Deploys and times it: from sending the POST until GET /v1/deployments/:id says live (read on
   * each change `GET /v1/events` announces, as the dashboard does), and until the gateway answers
   * with the new deployment (invoked on each change, then every INVOKE_GAP_MS once live).
   */
  async function deploy(
    agentId: string,
    source: DeploymentSource,
    serves: (r: { deploymentId: string; output: unknown }) => boolean,
    timeoutMs: number,
  ): Promise<DeployTiming> {
    const sentAt = Date.now();
    const t0 = performance.now();
    const { deploymentId } = await apiOk<{ deploymentId: string }>('POST', `/v1/agents/${agentId}/deployments`, {
      source,
    });
    const accepted = performance.now() - t0;
    let live: number | null = null;
    let served: number | null = null;
    let deployment: Deployment | null = null;
    const deadline = t0 + timeoutMs;
    while (live === null) {
      const [d, r] = await Promise.all([
        apiOk<Deployment>('GET', `/v1/deployments/${deploymentId}`),
        served === null ? invoke(agentId) : null,
      ]);
      const now = performance.now() - t0;
      if (served === null && r && r.deploymentId === deploymentId && serves(r)) served = now;
      if (d.status === 'live') {
        live = now;
        deployment = d;
        break;
      }
      if (d.status === 'failed' || d.status === 'canceled')
        throw new Error(`deployment ${deploymentId} ${d.status}: ${d.error?.code}: ${d.error?.message}`);
      if (performance.now() > deadline)
        throw new Error(`deployment ${deploymentId} still ${d.status} after ${ms(timeoutMs)}`);
      await nextChange(deploymentId, POLL_MS);
    }
    const servedBy = performance.now() + TIMEOUT.served;
    while (served === null) {
      const r = await invoke(agentId);
      if (r && r.deploymentId === deploymentId && serves(r)) served = performance.now() - t0;
      else if (performance.now() > servedBy)
        throw new Error(
          `deployment ${deploymentId} is live but the gateway did not serve it within ${ms(TIMEOUT.served)}`,
        );
      else await sleep(INVOKE_GAP_MS);
    }
    return { deploymentId, sentAt, accepted, live, served, deployment: deployment! };
  }

  /**
   * Where a deploy's time goes, from its step log: each segment ends at a step-log entry (or
   * the record's creation, or the client seeing it live) and starts at the one before. p50 per
   * segment over the deploys given.
   */
  function breakdown(timings: DeployTiming[]): string[][] {
    const segments = new Map<string, number[]>();
    const add = (label: string, v: number) => segments.set(label, [...(segments.get(label) ?? []), v]);
    for (const t of timings) {
      const marks = [
        { label: 'POST → deployment recorded (api)', at: Date.parse(t.deployment.createdAt) },
        ...t.deployment.steps.map((s) => ({
          label: `→ ${s.step} ${s.status}${STEP_NOTES[s.step] ? ` (${STEP_NOTES[s.step]})` : ''}`,
          at: Date.parse(s.at),
        })),
        { label: '→ client sees live (on the change feed)', at: t.sentAt + t.live },
      ];
      let prev = t.sentAt;
      for (const m of marks) {
        add(m.label, m.at - prev);
        prev = m.at;
      }
    }
    return [...segments].map(([label, v]) => [`  ${label}`, ms(pct(v, 50))]);
  }

  /** What each step-log segment covers (workflows/deploy/workflow.ts logs no entry for `activate`). */
  const STEP_NOTES: Record<string, string> = {
    validate: 'workflow started, → building',
    bundle: 'build on the build queue in a contained child, artifact stored, → deploying',
    create_version: 'the runtime starts the version’s workerd',
    health_check: 'GET /ping',
    mark_live: 'activate, pointer switch, → live',
  };

  const summary: string[][] = [['figure', 'measured', 'baseline (same run)', 'ratio', 'aim', '']];
  /** One line of the summary: a figure, its baseline and their ratio, and its aim where the issue set one. */
  function summarize(figure: string, value: number, baselineLabel: string, baseline: number, aim?: number) {
    const aimText = aim === undefined ? '' : `≤ ${aim >= 1000 ? `${aim / 1000} s` : `${aim} ms`}`;
    const verdict = aim === undefined ? '' : value <= aim ? 'met' : 'not met';
    summary.push([figure, ms(value), `${baselineLabel} ${ms(baseline)}`, ratio(value, baseline), aimText, verdict]);
  }

  // ── 1. files source → live ───────────────────────────────────────────────────────────────
  console.log(`\n1. files source → live: ${DEPLOYS} deploys of examples/echo, each interleaved with a baseline deploy`);
  const echo = await apiOk<Agent>('POST', '/v1/agents', { name: 'bench-echo', runtime: 'local' });
  const baseAgent = `agt_benchbase${Date.now().toString(36)}`;
  let baseSeq = 0;
  const buildScratch = buildConfigFromEnv(process.env, buildScratchDir);
  /** The same source straight through the provider: deployVersion + healthCheck + activateVersion. */
  async function baselineDeploy(version: string) {
    const b0 = performance.now();
    const bundle = await bundleFiles(echoVersion(version));
    const bundled = performance.now() - b0;
    // the build as the worker's activity runs it (a child process at a low priority), for comparison
    const c0 = performance.now();
    await buildContained(echoVersion(version), DEFAULT_LIMITS.build, { config: buildScratch });
    const contained = performance.now() - c0;
    const deploymentId = `dep_benchbase_${baseSeq++}`;
    const t0 = performance.now();
    const { versionRef } = await provider.deployVersion({ agentId: baseAgent, deploymentId, bundle });
    const created = performance.now() - t0;
    const health = await provider.healthCheck({ versionRef });
    if (!health.ok) throw new Error(`baseline version ${versionRef} is not healthy: ${health.detail}`);
    const checked = performance.now() - t0;
    await provider.activateVersion({ agentId: baseAgent, versionRef });
    const total = performance.now() - t0;
    const res = await provider.invoke({
      versionRef,
      deploymentId,
      body: JSON.stringify({ input: 'bench' }),
      sessionId: 'bench',
      accept: 'application/json',
      requestId: `req_bench${baseSeq}`,
    });
    const answer = JSON.parse(await res.text()) as { output?: { version?: string } };
    if (answer.output?.version !== version)
      throw new Error(`baseline version ${versionRef} answered ${JSON.stringify(answer)}`);
    return { bundled, contained, created, health: checked - created, activate: total - checked, total };
  }

  // one of each first, not counted: the platform's first deploy also warms its code paths
  const first = await deploy(echo.id, echoVersion('warmup'), (r) => echoed(r) === 'warmup', TIMEOUT.filesDeploy);
  await baselineDeploy('base-warmup');
  console.log(`  first deploy on the fresh platform (not counted): live ${ms(first.live)}, served ${ms(first.served)}`);

  const filesRuns: DeployTiming[] = [];
  const baseRuns: Awaited<ReturnType<typeof baselineDeploy>>[] = [];
  for (let i = 0; i < DEPLOYS; i++) {
    const version = `bench-${i}`;
    const t = await deploy(echo.id, echoVersion(version), (r) => echoed(r) === version, TIMEOUT.filesDeploy);
    filesRuns.push(t);
    const b = await baselineDeploy(`base-${i}`);
    baseRuns.push(b);
    console.log(
      `  #${i + 1}: accepted ${ms(t.accepted)}, live ${ms(t.live)}, gateway serves ${ms(t.served)} | baseline ${ms(b.total)}`,
    );
  }
  await provider.destroyAgent({ agentId: baseAgent });
  const live = filesRuns.map((t) => t.live);
  const served = filesRuns.map((t) => t.served);
  const base = baseRuns.map((b) => b.total);
  const spread = (label: string, v: number[]) => [label, ms(pct(v, 50)), ms(pct(v, 95))];
  console.log(
    table([
      ['', 'p50', 'p95'],
      spread(
        'platform: POST → 202',
        filesRuns.map((t) => t.accepted),
      ),
      spread('platform: POST → live', live),
      spread('platform: POST → gateway serves it', served),
      spread(
        'baseline: provider deployVersion',
        baseRuns.map((b) => b.created),
      ),
      spread(
        'baseline: provider healthCheck',
        baseRuns.map((b) => b.health),
      ),
      spread(
        'baseline: provider activateVersion',
        baseRuns.map((b) => b.activate),
      ),
      spread('baseline: the three together', base),
      spread(
        'for reference, not in either: esbuild in this process',
        baseRuns.map((b) => b.bundled),
      ),
      spread(
        '  the same build contained, as the worker runs it',
        baseRuns.map((b) => b.contained),
      ),
    ]),
  );
  console.log(`  where the platform's time goes (p50 of each segment, from the step log's timestamps):`);
  console.log(table(breakdown(filesRuns)));
  console.log(`  the same deploys from their Temporal histories (p50 of each phase):`);
  const deployPhases = await Promise.all(
    filesRuns.map(async (t) => phases(await historyOf(t.deployment.workflowId), t.sentAt, t.sentAt + t.live)),
  );
  console.log(table(phaseTable(deployPhases)));
  summarize('1. files → live p50', pct(live, 50), 'provider', pct(base, 50), AIMS.filesLiveP50);
  summarize('1. files → live p95', pct(live, 95), 'provider', pct(base, 95));
  summarize('1. files → gateway serves p50', pct(served, 50), 'provider', pct(base, 50));

  // ── 2. a project with dependencies → live, cold and warm ─────────────────────────────────
  console.log(`\n2. a project with dependencies → live: examples/ai-sdk (ai + hono, package-lock.json)`);
  const npmCache = join(platform.dataDir, 'build', 'npm-cache');
  const depsCache = join(platform.dataDir, 'build', 'deps-cache');
  const cacheEntries = () =>
    existsSync(depsCache)
      ? readdirSync(depsCache, { withFileTypes: true })
          .filter((e) => e.isDirectory() && !e.name.startsWith('.'))
          .map((e) => ({ key: e.name, mtime: statSync(join(depsCache, e.name)).mtimeMs }))
      : [];
  const npmBefore = treeBytes(npmCache);
  const entriesBefore = cacheEntries().length;
  console.log(
    `  before the cold deploy: npm download cache ${npmBefore === 0 ? 'empty' : `NOT empty (${(npmBefore / 1e6).toFixed(1)} MB)`}, dependency cache ${entriesBefore === 0 ? 'empty' : `NOT empty (${entriesBefore} entries)`}`,
  );
  const aiSource = folderSource(join(root, 'examples', 'ai-sdk'));
  const aiAnswers = (r: { output: unknown }) =>
    String((r.output as { text?: string } | undefined)?.text ?? '').startsWith('You said: bench');
  const aiAgent = await apiOk<Agent>('POST', '/v1/agents', { name: 'bench-ai-sdk', runtime: 'local' });
  const cold = await deploy(aiAgent.id, aiSource, aiAnswers, TIMEOUT.depsDeploy);
  const npmAfter = treeBytes(npmCache);
  const entries = cacheEntries();
  if (entries.length !== 1)
    throw new Error(`expected one dependency cache entry after the cold deploy, found ${entries.length}`);
  console.log(
    `  cold: live ${ms(cold.live)}, gateway serves ${ms(cold.served)} (framework ${cold.deployment.framework}; npm ci downloaded ${(npmAfter / 1e6).toFixed(1)} MB into its cache)`,
  );
  const warmRuns: DeployTiming[] = [];
  for (let i = 0; i < WARM_DEPLOYS; i++) {
    const before = cacheEntries();
    const npmBytes = treeBytes(npmCache);
    const t = await deploy(aiAgent.id, aiSource, aiAnswers, TIMEOUT.depsDeploy);
    const after = cacheEntries();
    // a cache hit touches its entry (least recently used goes first) and runs no npm
    const hit = after.length === 1 && after[0]!.mtime !== before[0]!.mtime && treeBytes(npmCache) === npmBytes;
    if (!hit) console.log(`  warm #${i + 1} did NOT come from the dependency cache (entries ${after.length})`);
    warmRuns.push(t);
    console.log(
      `  warm #${i + 1}: live ${ms(t.live)}, gateway serves ${ms(t.served)}, from the dependency cache: ${hit ? 'yes, no npm run' : 'no'}`,
    );
  }
  const warm = warmRuns.map((t) => t.live);
  console.log(`  where the time goes, cold:`);
  console.log(table(breakdown([cold])));
  console.log(`  where the time goes, warm (p50 of each segment):`);
  console.log(table(breakdown(warmRuns)));
  const coldNote = npmBefore === 0 ? 'npm cache empty' : 'npm cache NOT empty';
  summarize(`2. deps cold → live (${coldNote})`, cold.live, 'files deploy p50', pct(live, 50));
  summarize('2. deps warm → live (first)', warmRuns[0]!.live, 'files deploy p50', pct(live, 50), AIMS.depsWarm);
  summarize(`2. deps warm → live p50 (n=${WARM_DEPLOYS})`, pct(warm, 50), 'cold', cold.live, AIMS.depsWarm);

  // ── 3. rollback → the gateway serving the target ─────────────────────────────────────────
  console.log(
    `\n3. rollback → gateway serves the target: ${ROLLBACKS} rollbacks alternating between two live echo deployments`,
  );
  const [a, b] = filesRuns.slice(-2).map((t) => ({
    id: t.deploymentId,
    ref: t.deployment.providerRef!,
    version: `bench-${filesRuns.indexOf(t)}`,
  }));
  const running = async (ref: string) =>
    (
      (await (
        await fetch(`http://127.0.0.1:${platform.ports.runtime}/versions/${encodeURIComponent(ref)}/status`, {
          headers: {
            authorization: `Bearer ${readFileSync(join(platform.dataDir, 'runtime', 'control-token'), 'utf8').trim()}`,
          },
          signal: AbortSignal.timeout(TIMEOUT.request),
        })
      ).json()) as { running: boolean }
    ).running;

  /** Until the agent's previous rollback has freed its one in-flight slot (not timed). */
  async function slotFree(agentId: string) {
    const deadline = performance.now() + TIMEOUT.slotFree;
    while ((await apiOk<Agent>('GET', `/v1/agents/${agentId}`)).rollbackWorkflowId !== null) {
      if (performance.now() > deadline)
        throw new Error(`agent ${agentId}'s rollback slot still taken after ${ms(TIMEOUT.slotFree)}`);
      await sleep(POLL_MS);
    }
  }
  async function rollback(target: { id: string; version: string }): Promise<{ ms: number; sentAt: number }> {
    await slotFree(echo.id);
    const sentAt = Date.now();
    const t0 = performance.now();
    const r = await api<{ error?: { message: string } }>('POST', `/v1/agents/${echo.id}/rollback`, {
      deploymentId: target.id,
    });
    if (r.status !== 202) throw new Error(`rollback to ${target.id}: ${r.status} ${r.body.error?.message}`);
    const deadline = t0 + TIMEOUT.rollback;
    for (;;) {
      const answer = await invoke(echo.id);
      if (echoed(answer) === target.version) return { ms: performance.now() - t0, sentAt };
      if (performance.now() > deadline)
        throw new Error(
          `the gateway did not serve ${target.id} within ${ms(TIMEOUT.rollback)} of the rollback request`,
        );
      await sleep(INVOKE_GAP_MS);
    }
  }

  // not counted: the first one may have to start a version that drained during section 2
  const aWasRunning = await running(a!.ref);
  const firstRollback = (await rollback(a!)).ms;
  console.log(
    `  first rollback (not counted; target ${aWasRunning ? 'still running' : `stopped after ${DRAIN_MS / 1000} s without serving, started again`}): ${ms(firstRollback)}`,
  );
  await rollback(b!);
  const rollbackTimes: number[] = [];
  const rollbackPhases: [string, number][][] = [];
  let notRunning = 0;
  for (let i = 0; i < ROLLBACKS; i++) {
    const target = i % 2 === 0 ? a! : b!;
    if (!(await running(target.ref))) notRunning++;
    const r = await rollback(target);
    rollbackTimes.push(r.ms);
    // its history, before the next rollback to the same target runs under the same workflow id
    await slotFree(echo.id);
    rollbackPhases.push(phases(await historyOf(rollbackWorkflowId(echo.id, target.id)), r.sentAt, r.sentAt + r.ms));
  }
  console.log(
    `  rollbacks: ${rollbackTimes.map(ms).join(', ')}${notRunning ? ` (${notRunning} to a stopped version)` : ''}`,
  );
  const serving = (await apiOk<Agent>('GET', `/v1/agents/${echo.id}`)).activeDeploymentId === a!.id ? a! : b!;
  const activations: number[] = [];
  for (let i = 0; i < ROLLBACKS; i++) {
    const target = i % 2 === 0 ? (serving === a ? b! : a!) : serving;
    const t0 = performance.now();
    await provider.activateVersion({ agentId: echo.id, versionRef: target.ref });
    activations.push(performance.now() - t0);
  }
  // leave the runtime activating what the platform's pointer says serves
  await provider.activateVersion({ agentId: echo.id, versionRef: serving.ref });
  console.log(`  baseline activateVersion: ${activations.map(ms).join(', ')}`);
  console.log(
    table([
      ['', 'p50', 'p95'],
      ['platform: POST rollback → gateway serves the target', ms(pct(rollbackTimes, 50)), ms(pct(rollbackTimes, 95))],
      ['baseline: provider activateVersion', ms(pct(activations, 50)), ms(pct(activations, 95))],
    ]),
  );
  console.log(`  where a rollback's time goes, from its Temporal history (p50 of each phase):`);
  console.log(table(phaseTable(rollbackPhases)));
  summarize('3. rollback → served p50', pct(rollbackTimes, 50), 'activate', pct(activations, 50), AIMS.rollbackP50);
  summarize('3. rollback → served p95', pct(rollbackTimes, 95), 'activate', pct(activations, 95));

  feed.abort();
  const load1 = loadavg();
  console.log(
    `\ndeploy benchmark (${new Date().toISOString()}, node ${process.version}, ${ms(performance.now() - started)} after the platform was up, load average ${load0[0]!.toFixed(2)} → ${load1[0]!.toFixed(2)})`,
  );
  console.log(table(summary));
} catch (err) {
  failed = true;
  console.error(`\nbenchmark failed: ${err instanceof Error ? err.message : String(err)}`);
} finally {
  // a limit that stopped a version would make the figures meaningless: say so
  const stopped = platform
    .output()
    .split('\n')
    .filter((l) => l.includes('stopping') && !l.includes('no longer serves'));
  if (stopped.length) console.log(`\nthe local runtime stopped a version during the run:\n${stopped.join('\n')}`);
  await provider.close();
  await temporalConnection?.close();
  await platform.stop();
  for (const dir of [platform.dataDir, buildScratchDir]) rmSync(dir, { recursive: true, force: true });
}
if (failed) process.exitCode = 1;
