import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { setPriority } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import {
  Log,
  LogLevel,
  Miniflare,
  Response as MfResponse,
  type MiniflareOptions,
  type Request as MfRequest,
} from 'miniflare';
import {
  TELEMETRY_DEPLOYMENT_HEADER,
  TELEMETRY_MAX_BODY_BYTES,
  TELEMETRY_SIGNATURE_HEADER,
  TELEMETRY_TIMESTAMP_HEADER,
} from '../lib/contracts/index.js';
import type { AgentLimits } from '../lib/limits.js';
import { childWithEnv, rssBytes } from '../lib/process/proc.js';
import { ProviderError, type WorkerBundle } from '../lib/runtime/provider.js';
import { SealedValues } from './sealed.js';
import { PermanentFailure } from '../workflows/failures.js';
import {
  INVOKE_TOKEN_BINDING,
  INVOKE_TOKEN_HEADER,
  PLATFORM_BINDINGS,
  TELEMETRY_KEY_BINDING,
  TELEMETRY_SERVICE_BINDING,
} from '../lib/runtime/shim/index.js';
import { AGENT_NICENESS, VersionWatchdog } from './watchdog.js';

/** Workers compatibility date every local version runs with. */
const COMPATIBILITY_DATE = '2025-09-01';
/** The environment variable that tells one workerd process from another. */
const TAG_VARIABLE = 'WEBHOST_VERSION_TAG';
/** Lines of an agent's stdout and stderr passed on per window; the rest are counted, not logged. */
const LOG_LINES_PER_WINDOW = 20;
const LOG_WINDOW_MS = 10_000;
/** How long the reason a version was stopped is kept, for the next caller to be told. */
const STOP_REASON_TTL_MS = 10 * 60_000;
/** Health checks give a version this long to answer `GET /ping`. */
const PING_TIMEOUT_MS = 5_000;
/** How long the api gets to take a telemetry batch a shim posts through its service binding. */
const TELEMETRY_FORWARD_TIMEOUT_MS = 10_000;
/** What an idle workerd holds when it cannot be measured here. */
const FALLBACK_IDLE_RSS = 64 * 1024 * 1024;

interface VersionMeta {
  agentId: string;
  deploymentId: string;
  mainModule: string;
  moduleNames: string[];
  durableObjectClasses: string[];
  vars: Record<string, string>;
  /** Bindings the platform sets (invoke token, telemetry key and target); kept with the version, readable by this process only. */
  platformBindings?: Record<string, string>;
  createdAt: string;
}

interface AgentState {
  activeVersion: string | null;
  secrets: Record<string, string>;
}

/** An agent's state as written to disk: its secret values sealed (sealed.ts). */
interface StoredAgentState {
  activeVersion: string | null;
  sealedSecrets?: string;
}

interface Running {
  mf: Miniflare;
  url: URL;
}

/** A version that is starting or running. `agentId` is known at once, so nobody waits on another's start. */
interface Instance {
  agentId: string;
  tag: string;
  starting: Promise<Running>;
  watchdog: VersionWatchdog | null;
}

export interface HostOptions {
  dataDir: string;
  /** How long a version that no longer serves keeps running, for requests already on their way. */
  drainMs: number;
  limits: AgentLimits;
  /** workerd's network allow list for what agents may connect to (`public` unless widened). */
  egress: string[];
  /**
   * The address agents' workerd ports listen on (the control API's): loopback unless the
   * gateways run on other hosts. The shim refuses every call without the invoke token.
   */
  host: string;
  /**
   * The api's `POST /v1/telemetry` URL. Versions deployed with a telemetry key get a service
   * binding to it (agents' network cannot reach loopback; the binding is how the shim reaches
   * the api). Absent, shims have no way to post and record nothing.
   */
  telemetryUrl?: string;
  log?: (msg: string) => void;
}

const REF_PATTERN = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

/**
 * The local runtime: real workerd through Miniflare, one workerd process per version, so
 * a version keeps serving while the next one starts and is health-checked, and so one
 * version's process can be stopped without touching any other. Bundles live under
 * `dataDir/versions/<ref>/`; Durable Object state under `dataDir/state/<agentId>/`, shared
 * by an agent's versions so it survives deploys. After a switch the versions that no longer
 * serve drain for `drainMs` and stop; any version starts again on demand.
 *
 * Each version is held to the agent limits (architecture.md, Limits): its network reaches
 * public addresses only (`egress`), its start must finish within `startupMs`, its V8 heap is
 * capped, and a watchdog stops it when it passes its memory or CPU limit.
 */
export class LocalRuntimeHost {
  private readonly instances = new Map<string, Instance>();
  private readonly drainTimers = new Map<string, NodeJS.Timeout>();
  /** Seals agents' secret values in their state files; the key lives in `<dataDir>/keys/secrets.key`. */
  private readonly sealed: SealedValues;
  private readonly stopReasons = new Map<string, { reason: string; at: number }>();
  private readonly agentLocks = new Map<string, Promise<unknown>>();
  private idleRssBytes = FALLBACK_IDLE_RSS;

  constructor(private readonly opts: HostOptions) {
    // Read by Miniflare whenever it starts a workerd: every isolate's heap is capped.
    process.env.MINIFLARE_WORKERD_V8_FLAGS = `--max-old-space-size=${opts.limits.memoryMb}`;
    this.sealed = new SealedValues(join(opts.dataDir, 'keys', 'secrets.key'));
  }

  static versionRef(agentId: string, deploymentId: string): string {
    return `${agentId}.${deploymentId}`;
  }

  /**
   * Measures what an idle workerd holds (the memory limit counts above it), then starts, in
   * the background, the version each agent serves, so the first request after a restart is fast.
   */
  async boot(): Promise<void> {
    await mkdir(join(this.opts.dataDir, 'agents'), { recursive: true });
    await this.calibrate();
    const active: string[] = [];
    for (const file of await readdir(join(this.opts.dataDir, 'agents'))) {
      if (!file.endsWith('.json')) continue;
      const state = await this.readAgentState(file.replace(/\.json$/, ''));
      if (state.activeVersion) active.push(state.activeVersion);
    }
    void (async () => {
      for (const ref of active) {
        await this.ensureRunning(ref).catch((err: unknown) => this.log(`could not start ${ref}: ${String(err)}`));
      }
    })();
  }

  async createVersion(input: {
    agentId: string;
    deploymentId: string;
    bundle: WorkerBundle;
    vars: Record<string, string>;
    platformBindings: Record<string, string>;
  }): Promise<{ versionRef: string; url: string }> {
    const ref = LocalRuntimeHost.versionRef(input.agentId, input.deploymentId);
    const dir = this.versionDir(ref);
    if (!existsSync(join(dir, 'meta.json'))) {
      const tmp = `${dir}.tmp-${process.pid}-${randomUUID()}`;
      await mkdir(tmp, { recursive: true });
      for (const [name, contents] of Object.entries(input.bundle.modules)) {
        await mkdir(join(tmp, name, '..'), { recursive: true });
        await writeFile(join(tmp, name), contents);
      }
      const meta: VersionMeta = {
        agentId: input.agentId,
        deploymentId: input.deploymentId,
        mainModule: input.bundle.mainModule,
        moduleNames: [
          input.bundle.mainModule,
          ...Object.keys(input.bundle.modules).filter((m) => m !== input.bundle.mainModule),
        ],
        durableObjectClasses: input.bundle.durableObjectClasses,
        vars: input.vars,
        platformBindings: input.platformBindings,
        createdAt: new Date().toISOString(),
      };
      await writeFile(join(tmp, 'meta.json'), JSON.stringify(meta, null, 2), { mode: 0o600 });
      await rm(dir, { recursive: true, force: true });
      await rename(tmp, dir);
    }
    try {
      const running = await this.ensureRunning(ref);
      return { versionRef: ref, url: running.url.toString() };
    } catch (err) {
      // A version that cannot start is not kept: the same input would fail the same way.
      await this.removeVersion(input.agentId, ref);
      throw err;
    }
  }

  async activate(agentId: string, ref: string): Promise<void> {
    const meta = await this.readMeta(ref);
    if (meta.agentId !== agentId) {
      throw new ProviderError(
        'permanent',
        `version ${ref} does not belong to agent ${agentId}`,
        PermanentFailure.VersionNotFound,
      );
    }
    await this.ensureRunning(ref);
    await this.withAgentLock(agentId, async () => {
      const state = await this.readAgentState(agentId);
      await this.writeAgentState(agentId, { ...state, activeVersion: ref });
    });
    this.cancelDrain(ref);
    // The agent's other versions drain; nothing here waits on any version's start.
    for (const [otherRef, instance] of this.instances) {
      if (otherRef !== ref && instance.agentId === agentId) this.scheduleDrain(otherRef);
    }
  }

  async removeVersion(agentId: string, ref: string): Promise<void> {
    await this.stop(ref);
    await rm(this.versionDir(ref), { recursive: true, force: true });
    await this.withAgentLock(agentId, async () => {
      const state = await this.readAgentState(agentId);
      if (state.activeVersion === ref) await this.writeAgentState(agentId, { ...state, activeVersion: null });
    });
  }

  /** The URL that reaches the version's workerd directly; starts it if it is not running. */
  async endpoint(ref: string): Promise<string> {
    return (await this.ensureRunning(ref)).url.toString();
  }

  /** `GET /ping` on the version itself, with the invoke token it was deployed with. */
  async healthCheck(ref: string): Promise<{ ok: boolean; status: number | null; detail: string }> {
    const meta = await this.readMeta(ref);
    const url = new URL('/ping', (await this.ensureRunning(ref)).url);
    try {
      const res = await fetch(url, {
        headers: {
          [INVOKE_TOKEN_HEADER]: meta.platformBindings?.[INVOKE_TOKEN_BINDING] ?? '',
          'MF-Disable-Pretty-Error': '1',
        },
        signal: AbortSignal.timeout(PING_TIMEOUT_MS),
      });
      const text = (await res.text()).slice(0, 200);
      return { ok: res.ok, status: res.status, detail: res.ok ? 'ok' : `GET /ping answered ${res.status}: ${text}` };
    } catch (err) {
      return {
        ok: false,
        status: null,
        detail: `GET /ping failed: ${err instanceof Error ? err.message : String(err)}`,
      };
    }
  }

  /**
   * Every version of the agent this runtime holds (uploaded and not removed), oldest first,
   * whether it runs now, and which one serves: what an operator or a test compares with the
   * platform's deployments to find versions nothing accounts for.
   */
  async listVersions(agentId: string): Promise<{
    active: string | null;
    items: { versionRef: string; deploymentId: string; createdAt: string; running: boolean }[];
  }> {
    const prefix = `${agentId}.`;
    const dirs = await readdir(join(this.opts.dataDir, 'versions')).catch(() => [] as string[]);
    const items = [];
    for (const ref of dirs) {
      if (!ref.startsWith(prefix) || !REF_PATTERN.test(ref)) continue;
      const meta = await this.readMeta(ref).catch(() => null);
      if (!meta) continue; // removed meanwhile
      items.push({
        versionRef: ref,
        deploymentId: meta.deploymentId,
        createdAt: meta.createdAt,
        running: this.instances.has(ref),
      });
    }
    items.sort((a, b) => a.createdAt.localeCompare(b.createdAt));
    return { active: await this.activeVersion(agentId), items };
  }

  /** The version the agent serves at this runtime, if any. */
  async activeVersion(agentId: string): Promise<string | null> {
    return (await this.readAgentState(agentId)).activeVersion;
  }

  /** Whether the version runs, and why it was last stopped if a limit stopped it. */
  status(ref: string): { running: boolean; stopped: { reason: string; at: string } | null } {
    this.versionDir(ref);
    const stopped = this.stopReasons.get(ref);
    return {
      running: this.instances.has(ref),
      stopped:
        stopped && Date.now() - stopped.at < STOP_REASON_TTL_MS
          ? { reason: stopped.reason, at: new Date(stopped.at).toISOString() }
          : null,
    };
  }

  async setSecret(agentId: string, name: string, value: string | null): Promise<void> {
    await this.withAgentLock(agentId, async () => {
      const state = await this.readAgentState(agentId);
      const secrets = { ...state.secrets };
      if (value === null) delete secrets[name];
      else secrets[name] = value;
      await this.writeAgentState(agentId, { ...state, secrets });
    });
    // Running versions of this agent pick the change up at once, as on Cloudflare.
    for (const [ref, instance] of this.instances) {
      if (instance.agentId !== agentId) continue;
      const running = await instance.starting.catch(() => null);
      if (running) await running.mf.setOptions(await this.options(ref, await this.readMeta(ref), instance.tag));
    }
  }

  async destroyAgent(agentId: string): Promise<void> {
    const onDisk = await readdir(join(this.opts.dataDir, 'versions')).catch(() => [] as string[]);
    const refs = new Set([...onDisk, ...this.instances.keys()].filter((ref) => ref.startsWith(`${agentId}.`)));
    await Promise.all([...refs].map((ref) => this.removeVersion(agentId, ref)));
    await rm(join(this.opts.dataDir, 'state', agentId), { recursive: true, force: true });
    await rm(this.agentStatePath(agentId), { force: true });
  }

  async close(): Promise<void> {
    for (const t of this.drainTimers.values()) clearTimeout(t);
    await Promise.all([...this.instances.keys()].map((ref) => this.stop(ref)));
  }

  private ensureRunning(ref: string): Promise<Running> {
    const existing = this.instances.get(ref);
    if (existing) return existing.starting;
    const agentId = ref.split('.')[0]!;
    const instance: Instance = { agentId, tag: randomUUID(), starting: Promise.resolve(null as never), watchdog: null };
    instance.starting = this.start(ref, instance);
    this.instances.set(ref, instance);
    instance.starting.catch(() => {
      if (this.instances.get(ref) === instance) this.instances.delete(ref);
    });
    return instance.starting;
  }

  private async start(ref: string, instance: Instance): Promise<Running> {
    const meta = await this.readMeta(ref);
    const { limits } = this.opts;
    const mf = new Miniflare(await this.options(ref, meta, instance.tag));
    const pid = () => childWithEnv(process.pid, TAG_VARIABLE, instance.tag);
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error('startup limit')), limits.startupMs);
    });
    let url: URL;
    try {
      url = await Promise.race([mf.ready, timedOut]);
    } catch (err) {
      await mf.dispose().catch(() => undefined);
      if (err instanceof Error && err.message === 'startup limit') {
        throw new ProviderError(
          'permanent',
          `the agent did not start within ${limits.startupMs / 1000} s (startup limit): its module's top level must finish quickly`,
          PermanentFailure.AgentStartTimedOut,
        );
      }
      // workerd's own words say what is wrong with the user's code (it threw at start, a bad import).
      const detail = (err instanceof Error ? err.message : String(err))
        .replace(/^The Workers runtime failed to start\.[^\n]*\n?/, '')
        .replace(/^Runtime stderr:\s*/, '')
        .replace(/service core:user:[^:]*:\s*/g, '')
        .replace(/\/[^\s:'"]+\/node_modules\/[^\s'"]+/g, '<runtime>')
        .trim();
      throw new ProviderError('permanent', `the agent failed to start: ${detail}`, PermanentFailure.AgentStartFailed);
    } finally {
      clearTimeout(timer);
    }
    const started = pid();
    if (started !== null) this.lowerPriority(started);
    if (this.instances.get(ref) !== instance) {
      // stopped while it started
      await mf.dispose().catch(() => undefined);
      throw new ProviderError('retryable', `version ${ref} was stopped while it started`);
    }
    instance.watchdog = new VersionWatchdog({
      url,
      limits,
      idleRssBytes: this.idleRssBytes,
      pid,
      onBreach: (reason) => {
        this.log(`stopping ${ref}: ${reason}`);
        this.stopReasons.set(ref, { reason, at: Date.now() });
        this.pruneStopReasons();
        void this.stop(ref);
      },
    });
    instance.watchdog.start();
    this.stopReasons.delete(ref);
    this.log(`started ${ref} at ${url.origin}`);
    return { mf, url };
  }

  private async options(ref: string, meta: VersionMeta, tag: string): Promise<MiniflareOptions> {
    const dir = this.versionDir(ref);
    const state = await this.readAgentState(meta.agentId);
    const modules = await Promise.all(
      meta.moduleNames.map(async (name) => ({
        type: 'ESModule' as const,
        path: join(dir, name),
        contents: await readFile(join(dir, name), 'utf8'),
      })),
    );
    return {
      modules,
      modulesRoot: dir,
      compatibilityDate: COMPATIBILITY_DATE,
      compatibilityFlags: ['nodejs_compat'],
      // The platform's bindings last, and none of their names from the agent: its own cannot shadow them.
      bindings: { ...withoutPlatformNames({ ...meta.vars, ...state.secrets }), ...meta.platformBindings },
      ...(this.opts.telemetryUrl && meta.platformBindings?.[TELEMETRY_KEY_BINDING]
        ? { serviceBindings: { [TELEMETRY_SERVICE_BINDING]: (req: MfRequest) => this.forwardTelemetry(meta, req) } }
        : {}),
      durableObjects: Object.fromEntries(meta.durableObjectClasses.map((c) => [c, c])),
      durableObjectsPersist: join(this.opts.dataDir, 'state', meta.agentId, 'do'),
      // fetch() and connect() reach only what the allow list names: public addresses, not
      // this machine's services, the platform, or other agents.
      outboundService: { network: { allow: this.opts.egress, deny: [], tlsOptions: { trustBrowserCas: true } } },
      host: this.opts.host,
      port: 0,
      cf: false,
      log: new Log(LogLevel.WARN),
      unsafeRuntimeEnv: { [TAG_VARIABLE]: tag },
      handleRuntimeStdio: (stdout: Readable, stderr: Readable) => {
        const relay = this.rateLimitedLog(ref);
        for (const stream of [stdout, stderr]) relayLines(stream, relay);
      },
      unsafeHandleRuntimeRestart: () => {
        // workerd died (an out-of-memory abort, most likely) and Miniflare started it again.
        this.log(`${ref} crashed and was restarted`);
        this.stopReasons.set(ref, { reason: 'its process crashed (out of memory?) and was restarted', at: Date.now() });
        const restarted = childWithEnv(process.pid, TAG_VARIABLE, tag);
        if (restarted !== null) this.lowerPriority(restarted);
      },
    };
  }

  /**
   * The shim's telemetry service binding: a signed batch goes to the api's `/v1/telemetry` as
   * it is, under the deployment this version belongs to (whatever the shim says), bounded in
   * size and time. Only that one route is reachable through it; the api checks the signature.
   */
  private async forwardTelemetry(meta: VersionMeta, req: MfRequest): Promise<MfResponse> {
    const answer = (status: number, message: string) =>
      new MfResponse(JSON.stringify({ error: { code: 'telemetry_not_forwarded', message } }), {
        status,
        headers: { 'content-type': 'application/json' },
      });
    if (req.method !== 'POST') return answer(405, 'POST a signed batch');
    const body = await readAtMost(req.body, TELEMETRY_MAX_BODY_BYTES);
    if (body === null) return answer(413, `telemetry batches are limited to ${TELEMETRY_MAX_BODY_BYTES} bytes`);
    try {
      const res = await fetch(this.opts.telemetryUrl!, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          [TELEMETRY_DEPLOYMENT_HEADER]: meta.deploymentId,
          [TELEMETRY_TIMESTAMP_HEADER]: req.headers.get(TELEMETRY_TIMESTAMP_HEADER) ?? '',
          [TELEMETRY_SIGNATURE_HEADER]: req.headers.get(TELEMETRY_SIGNATURE_HEADER) ?? '',
        },
        body,
        signal: AbortSignal.timeout(TELEMETRY_FORWARD_TIMEOUT_MS),
      });
      const text = (await res.text()).slice(0, 4096);
      return new MfResponse(text, { status: res.status, headers: { 'content-type': 'application/json' } });
    } catch (err) {
      return answer(502, `the api did not take the batch: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  private async stop(ref: string): Promise<void> {
    this.cancelDrain(ref);
    const instance = this.instances.get(ref);
    if (!instance) return;
    this.instances.delete(ref);
    instance.watchdog?.stop();
    const running = await instance.starting.catch(() => null);
    await running?.mf.dispose().catch(() => undefined);
  }

  /** One trivial version, started and stopped, to learn what an idle workerd holds here. */
  private async calibrate(): Promise<void> {
    const tag = randomUUID();
    const mf = new Miniflare({
      modules: true,
      script: 'export default { fetch() { return new Response("idle") } }',
      compatibilityDate: COMPATIBILITY_DATE,
      cf: false,
      host: '127.0.0.1',
      port: 0,
      unsafeRuntimeEnv: { [TAG_VARIABLE]: tag },
      log: new Log(LogLevel.WARN),
    });
    try {
      const url = await mf.ready;
      await (await fetch(url)).text();
      const pid = childWithEnv(process.pid, TAG_VARIABLE, tag);
      const rss = pid === null ? null : rssBytes(pid);
      if (rss !== null) this.idleRssBytes = rss;
      this.log(
        `an idle workerd holds ${(this.idleRssBytes / 1024 / 1024).toFixed(0)} MiB; agents get ${this.opts.limits.memoryMb} MiB above it`,
      );
    } catch (err) {
      this.log(`could not measure an idle workerd (${String(err)}); counting ${FALLBACK_IDLE_RSS / 1024 / 1024} MiB`);
    } finally {
      await mf.dispose().catch(() => undefined);
    }
  }

  private lowerPriority(pid: number): void {
    try {
      setPriority(pid, AGENT_NICENESS);
    } catch {
      // not permitted here; the limits still hold
    }
  }

  private rateLimitedLog(ref: string): (line: string) => void {
    let windowStart = 0;
    let lines = 0;
    let dropped = 0;
    return (line) => {
      const now = Date.now();
      if (now - windowStart > LOG_WINDOW_MS) {
        if (dropped) this.log(`[${ref}] … ${dropped} more lines dropped`);
        windowStart = now;
        lines = 0;
        dropped = 0;
      }
      if (++lines <= LOG_LINES_PER_WINDOW) this.log(`[${ref}] ${line.slice(0, 500)}`);
      else dropped++;
    };
  }

  private pruneStopReasons(): void {
    const now = Date.now();
    for (const [ref, { at }] of this.stopReasons) if (now - at > STOP_REASON_TTL_MS) this.stopReasons.delete(ref);
  }

  private scheduleDrain(ref: string): void {
    if (this.drainTimers.has(ref)) return;
    const t = setTimeout(() => {
      this.drainTimers.delete(ref);
      this.log(`stopping ${ref}: it no longer serves`);
      void this.stop(ref);
    }, this.opts.drainMs);
    t.unref();
    this.drainTimers.set(ref, t);
  }

  private cancelDrain(ref: string): void {
    const t = this.drainTimers.get(ref);
    if (t) clearTimeout(t);
    this.drainTimers.delete(ref);
  }

  /** Runs read-modify-writes of one agent's state file one after another. */
  private async withAgentLock<T>(agentId: string, fn: () => Promise<T>): Promise<T> {
    const before = this.agentLocks.get(agentId) ?? Promise.resolve();
    const run = before.catch(() => undefined).then(fn);
    this.agentLocks.set(agentId, run);
    try {
      return await run;
    } finally {
      if (this.agentLocks.get(agentId) === run) this.agentLocks.delete(agentId);
    }
  }

  private versionDir(ref: string): string {
    if (!REF_PATTERN.test(ref)) {
      throw new ProviderError('permanent', `not a local version reference: ${ref}`, PermanentFailure.VersionNotFound);
    }
    return join(this.opts.dataDir, 'versions', ref);
  }

  private async readMeta(ref: string): Promise<VersionMeta> {
    try {
      return JSON.parse(await readFile(join(this.versionDir(ref), 'meta.json'), 'utf8')) as VersionMeta;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
        throw new ProviderError('permanent', `version ${ref} does not exist`, PermanentFailure.VersionNotFound);
      }
      throw err;
    }
  }

  private agentStatePath(agentId: string): string {
    if (!/^[A-Za-z0-9_-]+$/.test(agentId)) throw new ProviderError('permanent', `not an agent id: ${agentId}`);
    return join(this.opts.dataDir, 'agents', `${agentId}.json`);
  }

  private async readAgentState(agentId: string): Promise<AgentState> {
    try {
      const stored = JSON.parse(await readFile(this.agentStatePath(agentId), 'utf8')) as StoredAgentState;
      return {
        activeVersion: stored.activeVersion,
        secrets: stored.sealedSecrets ? this.sealed.open(stored.sealedSecrets) : {},
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { activeVersion: null, secrets: {} };
      throw err;
    }
  }

  private async writeAgentState(agentId: string, state: AgentState): Promise<void> {
    const path = this.agentStatePath(agentId);
    await mkdir(join(path, '..'), { recursive: true });
    const tmp = `${path}.tmp-${randomUUID()}`;
    const stored: StoredAgentState = {
      activeVersion: state.activeVersion,
      ...(Object.keys(state.secrets).length > 0 ? { sealedSecrets: this.sealed.seal(state.secrets) } : {}),
    };
    await writeFile(tmp, JSON.stringify(stored), { mode: 0o600 });
    await rename(tmp, path);
  }

  private log(msg: string): void {
    this.opts.log?.(msg);
  }
}

/** Bindings named like the platform's are the platform's alone. */
function withoutPlatformNames(bindings: Record<string, string>): Record<string, string> {
  const names = new Set<string>(PLATFORM_BINDINGS);
  return Object.fromEntries(Object.entries(bindings).filter(([name]) => !names.has(name)));
}

/** A body of at most `max` bytes, or null when it is longer (the rest is not read). */
async function readAtMost(body: ReadableStream<Uint8Array> | null, max: number): Promise<Uint8Array | null> {
  if (!body) return new Uint8Array();
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > max) {
      await reader.cancel().catch(() => undefined);
      return null;
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks);
}

function relayLines(stream: Readable, onLine: (line: string) => void): void {
  const lines = createInterface({ input: stream, crlfDelay: Infinity });
  lines.on('line', (line) => {
    if (line.trim()) onLine(line);
  });
  lines.on('error', () => undefined);
}
