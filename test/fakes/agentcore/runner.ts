// Runs runtime versions' code the way AgentCore runs a code deployment: the artifact's zip is
// unpacked and its entry point started with Node 22 (this process's own binary) on a loopback
// port, with the version's environment variables; it is ready when `GET /ping` answers 200.
// At most `maxRunning` run at once: starting one more stops the least recently used idle one,
// which starts again on its next invocation (a cold start).
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { dirname, join, resolve, sep } from 'node:path';
import { readZip } from '../../../lib/runtime/providers/agentcore/zip.js';
import { freePort } from '../../helpers/ports.js';

export interface VersionSpec {
  key: string;
  zip: Buffer;
  entryPoint: string[];
  env: Record<string, string>;
}

interface Running {
  key: string;
  child: ChildProcess;
  url: string;
  lastUsed: number;
  inFlight: number;
  exited: Promise<void>;
}

export class StartError extends Error {}

export class Runner {
  private readonly running = new Map<string, Running>();
  private readonly starting = new Map<string, Promise<Running>>();

  constructor(
    private readonly root: string,
    private readonly opts: { maxRunning: number; startupMs: number },
  ) {}

  get count(): number {
    return this.running.size;
  }

  /** The URL of the version's server, started if it is not running. */
  async ensure(spec: VersionSpec): Promise<{ url: string; release(): void }> {
    let r = this.running.get(spec.key);
    if (!r) {
      let p = this.starting.get(spec.key);
      if (!p) {
        p = this.start(spec).finally(() => this.starting.delete(spec.key));
        this.starting.set(spec.key, p);
      }
      r = await p;
    }
    const run = r;
    run.lastUsed = Date.now();
    run.inFlight++;
    let released = false;
    return {
      url: run.url,
      release: () => {
        if (released) return;
        released = true;
        run.inFlight--;
        run.lastUsed = Date.now();
      },
    };
  }

  async stop(key: string): Promise<void> {
    const r = this.running.get(key);
    if (!r) return;
    this.running.delete(key);
    r.child.kill('SIGKILL');
    await r.exited;
  }

  async stopMatching(prefix: string): Promise<void> {
    await Promise.all([...this.running.keys()].filter((k) => k.startsWith(prefix)).map((k) => this.stop(k)));
  }

  async close(): Promise<void> {
    await Promise.all([...this.running.keys()].map((k) => this.stop(k)));
    rmSync(this.root, { recursive: true, force: true });
  }

  private async start(spec: VersionSpec): Promise<Running> {
    await this.makeRoom();
    const dir = join(this.root, spec.key.replace(/[^a-zA-Z0-9_.-]/g, '_'));
    rmSync(dir, { recursive: true, force: true });
    let files: Map<string, Buffer>;
    try {
      files = readZip(spec.zip);
    } catch (err) {
      throw new StartError(`the code artifact is not a valid zip: ${(err as Error).message}`);
    }
    for (const [name, data] of files) {
      const path = resolve(dir, name);
      if (!path.startsWith(dir + sep)) throw new StartError(`unsafe path in the artifact: ${name}`);
      mkdirSync(dirname(path), { recursive: true });
      writeFileSync(path, data);
    }
    const [entry, ...args] = spec.entryPoint;
    if (!entry || !existsSync(resolve(dir, entry))) {
      throw new StartError(`the entry point ${entry ?? '(none)'} is not in the code artifact`);
    }
    const port = await freePort();
    const child = spawn(process.execPath, ['--max-old-space-size=128', entry, ...args], {
      cwd: dir,
      env: { ...spec.env, PORT: String(port), HOST: '127.0.0.1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    const keep = (chunk: Buffer) => {
      output = (output + chunk.toString('utf8')).slice(-4000);
    };
    child.stdout!.on('data', keep);
    child.stderr!.on('data', keep);
    const exited = new Promise<void>((done) => child.once('exit', () => done()));
    let gone = false;
    void exited.then(() => {
      gone = true;
      if (this.running.get(spec.key)?.child === child) this.running.delete(spec.key);
    });
    const url = `http://127.0.0.1:${port}`;
    const deadline = Date.now() + this.opts.startupMs;
    for (;;) {
      if (gone) throw new StartError(`the runtime exited while starting: ${output.trim().split('\n').at(-1) ?? ''}`);
      const ok = await fetch(`${url}/ping`, { signal: AbortSignal.timeout(1000) })
        .then((r) => r.ok)
        .catch(() => false);
      if (ok) break;
      if (Date.now() > deadline) {
        child.kill('SIGKILL');
        await exited;
        throw new StartError(`the runtime did not answer GET /ping within ${this.opts.startupMs} ms`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    const run: Running = { key: spec.key, child, url, lastUsed: Date.now(), inFlight: 0, exited };
    this.running.set(spec.key, run);
    return run;
  }

  private async makeRoom(): Promise<void> {
    while (this.running.size + this.starting.size >= this.opts.maxRunning) {
      const idle = [...this.running.values()].filter((r) => r.inFlight === 0).sort((a, b) => a.lastUsed - b.lastUsed);
      if (!idle[0]) throw new StartError(`more than ${this.opts.maxRunning} runtimes busy at once`);
      await this.stop(idle[0].key);
    }
  }
}
