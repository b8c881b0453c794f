import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Log, LogLevel, Miniflare, type MiniflareOptions } from 'miniflare';
import { PermanentFailure } from '../workflows/failures.js';
import { ProviderError, type WorkerBundle } from '../lib/runtime/provider.js';

/** Workers compatibility date every local version runs with. */
const COMPATIBILITY_DATE = '2025-09-01';

interface VersionMeta {
  agentId: string;
  deploymentId: string;
  mainModule: string;
  moduleNames: string[];
  durableObjectClasses: string[];
  vars: Record<string, string>;
  createdAt: string;
}

interface AgentState {
  activeVersion: string | null;
  secrets: Record<string, string>;
}

interface Running {
  mf: Miniflare;
  url: URL;
  agentId: string;
}

const REF_PATTERN = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

/**
 * The local runtime: real workerd through Miniflare, one workerd process per version, so
 * a version keeps serving while the next one starts and is health-checked. Bundles live
 * under `dataDir/versions/<ref>/`; Durable Object state under `dataDir/state/<agentId>/`,
 * shared by an agent's versions so it survives deploys. After a switch the versions that
 * no longer serve drain for `drainMs` and stop; any version starts again on demand
 * (after a restart, or when a rollback activates it).
 */
export class LocalRuntimeHost {
  private readonly running = new Map<string, Promise<Running>>();
  private readonly drainTimers = new Map<string, NodeJS.Timeout>();

  constructor(private readonly opts: { dataDir: string; drainMs: number; log?: (msg: string) => void }) {}

  static versionRef(agentId: string, deploymentId: string): string {
    return `${agentId}.${deploymentId}`;
  }

  /** Starts the version each agent serves, so the first request after a restart is fast. */
  async boot(): Promise<void> {
    await mkdir(join(this.opts.dataDir, 'agents'), { recursive: true });
    for (const file of await readdir(join(this.opts.dataDir, 'agents'))) {
      const state = await this.readAgentState(file.replace(/\.json$/, ''));
      if (state.activeVersion) {
        await this.ensureRunning(state.activeVersion).catch((err: unknown) =>
          this.log(`could not start ${state.activeVersion}: ${String(err)}`),
        );
      }
    }
  }

  async createVersion(input: {
    agentId: string;
    deploymentId: string;
    bundle: WorkerBundle;
    vars: Record<string, string>;
  }): Promise<{ versionRef: string; url: string }> {
    const ref = LocalRuntimeHost.versionRef(input.agentId, input.deploymentId);
    const dir = this.versionDir(ref);
    if (!existsSync(join(dir, 'meta.json'))) {
      const tmp = `${dir}.tmp-${process.pid}-${Date.now()}`;
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
        createdAt: new Date().toISOString(),
      };
      await writeFile(join(tmp, 'meta.json'), JSON.stringify(meta, null, 2));
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
    if (meta.agentId !== agentId)
      throw new ProviderError(
        'permanent',
        `version ${ref} does not belong to agent ${agentId}`,
        PermanentFailure.VersionNotFound,
      );
    await this.ensureRunning(ref);
    const state = await this.readAgentState(agentId);
    await this.writeAgentState(agentId, { ...state, activeVersion: ref });
    this.cancelDrain(ref);
    for (const [otherRef, pending] of this.running) {
      if (otherRef === ref) continue;
      const other = await pending.catch(() => null);
      if (other?.agentId === agentId) this.scheduleDrain(otherRef);
    }
  }

  async removeVersion(agentId: string, ref: string): Promise<void> {
    await this.stop(ref);
    await rm(this.versionDir(ref), { recursive: true, force: true });
    const state = await this.readAgentState(agentId);
    if (state.activeVersion === ref) await this.writeAgentState(agentId, { ...state, activeVersion: null });
  }

  /** The URL that reaches the version's workerd directly; starts it if it is not running. */
  async endpoint(ref: string): Promise<string> {
    return (await this.ensureRunning(ref)).url.toString();
  }

  async setSecret(agentId: string, name: string, value: string | null): Promise<void> {
    const state = await this.readAgentState(agentId);
    const secrets = { ...state.secrets };
    if (value === null) delete secrets[name];
    else secrets[name] = value;
    await this.writeAgentState(agentId, { ...state, secrets });
    // Running versions pick the change up at once, as on Cloudflare.
    for (const [ref, pending] of this.running) {
      const r = await pending.catch(() => null);
      if (r?.agentId === agentId) await r.mf.setOptions(await this.options(ref, await this.readMeta(ref)));
    }
  }

  async destroyAgent(agentId: string): Promise<void> {
    for (const entry of await readdir(join(this.opts.dataDir, 'versions')).catch(() => [] as string[])) {
      if (entry.startsWith(`${agentId}.`)) await this.removeVersion(agentId, entry);
    }
    await rm(join(this.opts.dataDir, 'state', agentId), { recursive: true, force: true });
    await rm(this.agentStatePath(agentId), { force: true });
  }

  async close(): Promise<void> {
    for (const t of this.drainTimers.values()) clearTimeout(t);
    await Promise.all([...this.running.keys()].map((ref) => this.stop(ref)));
  }

  private ensureRunning(ref: string): Promise<Running> {
    const existing = this.running.get(ref);
    if (existing) return existing;
    const starting = this.start(ref);
    this.running.set(ref, starting);
    starting.catch(() => this.running.delete(ref));
    return starting;
  }

  private async start(ref: string): Promise<Running> {
    const meta = await this.readMeta(ref);
    const mf = new Miniflare(await this.options(ref, meta));
    try {
      const url = await mf.ready;
      this.log(`started ${ref} at ${url.origin}`);
      return { mf, url, agentId: meta.agentId };
    } catch (err) {
      await mf.dispose().catch(() => undefined);
      // workerd's own words say what is wrong with the user's code (it threw at start, a bad import).
      const detail = (err instanceof Error ? err.message : String(err))
        .replace(/^The Workers runtime failed to start\.[^\n]*\n?/, '')
        .replace(/^Runtime stderr:\s*/, '')
        .replace(/service core:user:[^:]*:\s*/g, '')
        .trim();
      throw new ProviderError('permanent', `the agent failed to start: ${detail}`, PermanentFailure.AgentStartFailed);
    }
  }

  private async options(ref: string, meta: VersionMeta): Promise<MiniflareOptions> {
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
      bindings: { ...meta.vars, ...state.secrets },
      durableObjects: Object.fromEntries(meta.durableObjectClasses.map((c) => [c, c])),
      durableObjectsPersist: join(this.opts.dataDir, 'state', meta.agentId, 'do'),
      host: '127.0.0.1',
      port: 0,
      cf: false,
      log: new Log(LogLevel.WARN),
    };
  }

  private async stop(ref: string): Promise<void> {
    this.cancelDrain(ref);
    const pending = this.running.get(ref);
    if (!pending) return;
    this.running.delete(ref);
    const r = await pending.catch(() => null);
    await r?.mf.dispose().catch(() => undefined);
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

  private versionDir(ref: string): string {
    if (!REF_PATTERN.test(ref))
      throw new ProviderError('permanent', `not a local version reference: ${ref}`, PermanentFailure.VersionNotFound);
    return join(this.opts.dataDir, 'versions', ref);
  }

  private async readMeta(ref: string): Promise<VersionMeta> {
    try {
      return JSON.parse(await readFile(join(this.versionDir(ref), 'meta.json'), 'utf8')) as VersionMeta;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT')
        throw new ProviderError('permanent', `version ${ref} does not exist`, PermanentFailure.VersionNotFound);
      throw err;
    }
  }

  private agentStatePath(agentId: string): string {
    if (!/^[A-Za-z0-9_-]+$/.test(agentId)) throw new ProviderError('permanent', `not an agent id: ${agentId}`);
    return join(this.opts.dataDir, 'agents', `${agentId}.json`);
  }

  private async readAgentState(agentId: string): Promise<AgentState> {
    try {
      return JSON.parse(await readFile(this.agentStatePath(agentId), 'utf8')) as AgentState;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { activeVersion: null, secrets: {} };
      throw err;
    }
  }

  private async writeAgentState(agentId: string, state: AgentState): Promise<void> {
    const path = this.agentStatePath(agentId);
    await mkdir(join(path, '..'), { recursive: true });
    const tmp = `${path}.tmp-${process.pid}`;
    await writeFile(tmp, JSON.stringify(state), { mode: 0o600 });
    await rename(tmp, path);
  }

  private log(msg: string): void {
    this.opts.log?.(msg);
  }
}
