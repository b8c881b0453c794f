// The fake's Workers runtime: each uploaded version runs in real workerd through Miniflare, one
// instance per version, started on demand and bounded in number.
import type { Readable } from 'node:stream';
import { Log, LogLevel, Miniflare } from 'miniflare';

export interface RunnableVersion {
  id: string;
  mainModule: string;
  modules: { name: string; content: string }[];
  compatibilityDate: string;
  compatibilityFlags: string[];
  /** Text bindings (plain_text and secret_text), by name. */
  textBindings: Record<string, string>;
  /** Durable Object namespace bindings: binding name → class name. */
  durableObjects: Record<string, string>;
}

interface Instance {
  mf: Miniflare;
  ready: Promise<URL>;
  inFlight: number;
  lastUsed: number;
}

/** Why a version's code could not start, as Cloudflare words it (`Uncaught Error: …`). */
export class StartupError extends Error {}

const STARTUP_TIMEOUT_MS = 30_000;

export class VersionRunner {
  private readonly instances = new Map<string, Instance>();

  constructor(
    private readonly maxInstances: number,
    private readonly egress: string[] = ['public'],
  ) {}

  get running(): number {
    return this.instances.size;
  }

  /** Starts the version (if it is not running) and waits until it is ready, or throws a `StartupError`. */
  async start(version: RunnableVersion): Promise<void> {
    await this.instance(version).ready;
  }

  /** Sends one request to the version; the answer's body streams. */
  async fetch(version: RunnableVersion, url: string, init: RequestInit & { duplex?: 'half' }): Promise<Response> {
    const instance = this.instance(version);
    instance.inFlight++;
    try {
      await instance.ready;
      const res = await instance.mf.dispatchFetch(url, init as never);
      return res as unknown as Response;
    } finally {
      instance.inFlight--;
      instance.lastUsed = Date.now();
    }
  }

  async stop(versionId: string): Promise<void> {
    const instance = this.instances.get(versionId);
    if (!instance) return;
    this.instances.delete(versionId);
    await instance.mf.dispose().catch(() => undefined);
  }

  async close(): Promise<void> {
    await Promise.all([...this.instances.keys()].map((id) => this.stop(id)));
  }

  private instance(version: RunnableVersion): Instance {
    const existing = this.instances.get(version.id);
    if (existing) {
      existing.lastUsed = Date.now();
      return existing;
    }
    this.evict();
    const mf = new Miniflare({
      modules: version.modules.map((m) => ({ type: 'ESModule' as const, path: m.name, contents: m.content })),
      compatibilityDate: version.compatibilityDate,
      compatibilityFlags: version.compatibilityFlags,
      bindings: version.textBindings,
      durableObjects: version.durableObjects,
      // As on the local runtime: an uploaded Worker reaches public addresses only, not this
      // machine, unless the test widens it.
      outboundService: { network: { allow: this.egress, deny: [] } },
      host: '127.0.0.1',
      port: 0,
      cf: false,
      log: new Log(LogLevel.NONE),
      // what the Workers print is not the test's output; drained so workerd never blocks on a full pipe
      handleRuntimeStdio: (stdout: Readable, stderr: Readable) => {
        stdout.resume();
        stderr.resume();
      },
    });
    let timer: NodeJS.Timeout | undefined;
    const ready = Promise.race([
      mf.ready,
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new StartupError('Worker startup exceeded the time limit')),
          STARTUP_TIMEOUT_MS,
        );
      }),
    ])
      .catch(async (err: unknown) => {
        this.instances.delete(version.id);
        await mf.dispose().catch(() => undefined);
        throw err instanceof StartupError ? err : new StartupError(startupMessage(err));
      })
      .finally(() => clearTimeout(timer));
    const instance: Instance = { mf, ready, inFlight: 0, lastUsed: Date.now() };
    this.instances.set(version.id, instance);
    return instance;
  }

  /** Keeps at most `maxInstances` running: the least recently used idle one stops first. */
  private evict(): void {
    while (this.instances.size >= this.maxInstances) {
      const idle = [...this.instances.entries()]
        .filter(([, i]) => i.inFlight === 0)
        .sort((a, b) => a[1].lastUsed - b[1].lastUsed)[0];
      if (!idle) throw new Error(`the fake runs at most ${this.maxInstances} versions at once, all busy`);
      void this.stop(idle[0]);
    }
  }
}

/** workerd's words for a module that failed to load, as Cloudflare reports them ("Uncaught Error: boom"). */
function startupMessage(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  const uncaught = /Uncaught [^\n]*/.exec(text);
  if (uncaught) return uncaught[0].trim();
  return text
    .replace(/^The Workers runtime failed to start\.[^\n]*\n?/, '')
    .replace(/\/[^\s:'"]+\/node_modules\/[^\s'"]+/g, '<runtime>')
    .trim()
    .slice(0, 500);
}
