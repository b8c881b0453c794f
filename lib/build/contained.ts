import { spawn, type ChildProcessWithoutNullStreams as ChildProcess } from 'node:child_process';
import { mkdirSync, renameSync } from 'node:fs';
import type { Socket } from 'node:net';
import { setPriority } from 'node:os';
import { join } from 'node:path';
import { buildSync } from 'esbuild';
import { buildConfigFromEnv, type BuildConfig } from '../config.js';
import type { DeploymentSource } from '../contracts/index.js';
import type { BuildLimits } from '../limits.js';
import { processTree, rssBytes } from '../process/proc.js';
import type { ChildInput, ChildOutcome } from './child.js';
import { networkEnv, resolveNpm } from './deps.js';
import { BuildError } from './errors.js';
import { sizeText, type ProjectBuildResult } from './project.js';

const CHILD_SOURCE = join(import.meta.dirname, 'child.ts');
const DIST = join(import.meta.dirname, '../../dist');
let childScript: string | undefined;

/**
 * The build child as plain JavaScript, bundled from child.ts once per process (our own code,
 * not tenant input; npm packages stay external and load from node_modules). Starting it with
 * a TypeScript loader instead would cost each build about 0.6 s.
 */
function childEntry(): string {
  if (childScript) return childScript;
  mkdirSync(DIST, { recursive: true });
  const script = join(DIST, 'build-child.mjs');
  const tmp = join(DIST, `build-child.${process.pid}.mjs`);
  buildSync({
    entryPoints: [CHILD_SOURCE],
    outfile: tmp,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node22',
    packages: 'external',
    logLevel: 'silent',
  });
  renameSync(tmp, script); // atomic: another process may be writing the same file
  childScript = script;
  return script;
}
/** Builds are batch work: the platform and serving agents come first, agents that keep a core busy after. */
const BUILD_NICENESS = 15;
/** How often the build's memory is read. */
const SAMPLE_MS = 50;
/** How much of the build's stderr a crash report quotes. */
const STDERR_EXCERPT = 600;
/** The build's own deadline comes this much before the parent's, so a slow install or fetch says which it was. */
const INNER_DEADLINE_MARGIN_MS = 1_000;

/**
 * Builds tenant source (lib/build/project.ts: fetch, install, bundle) in a child process,
 * with npm, git and the bundler below it, that may crash, hang or grow without harm to
 * anyone else: it runs at a low CPU priority, with a minimal environment, and is killed — the
 * whole process group, npm and git included — when it passes its time or memory limit or
 * the caller aborts. Every way it can end that is the source's doing is a `BuildError` that
 * says which.
 */
export async function buildContained(
  source: DeploymentSource,
  limits: BuildLimits,
  opts: { signal?: AbortSignal; onProgress?: () => void; config?: BuildConfig; npm?: readonly string[] } = {},
): Promise<ProjectBuildResult> {
  const child = takeChild(limits.memoryMb);

  let killedFor: string | null = null;
  const kill = (why: string) => {
    killedFor ??= why;
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      // already gone
    }
  };
  const deadline = setTimeout(
    () => kill(`the build took longer than ${limits.timeoutMs / 1000} s (build time limit)`),
    limits.timeoutMs,
  );
  const sampler = setInterval(() => {
    opts.onProgress?.();
    const used = processTree(child.pid!).reduce((n, pid) => n + (rssBytes(pid) ?? 0), 0);
    if (used > limits.memoryMb * 1024 * 1024)
      kill(`the build used more than ${limits.memoryMb} MiB (build memory limit)`);
  }, SAMPLE_MS);
  const onAbort = () => kill('the build was canceled');
  opts.signal?.addEventListener('abort', onAbort);

  const stdout: Buffer[] = [];
  let stdoutBytes = 0;
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => {
    stdoutBytes += d.length;
    // A bundle within its limit, as JSON, is at most a few times its size.
    if (stdoutBytes > limits.bundleMaxBytes * 8)
      kill(`the bundle is over the ${sizeText(limits.bundleMaxBytes)} bundle limit`);
    else stdout.push(d);
  });
  child.stderr.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-4 * STDERR_EXCERPT);
  });
  child.stdin.on('error', () => undefined); // a child that dies early closes its stdin
  const input: ChildInput = {
    source,
    timeoutMs: Math.max(1, limits.timeoutMs - INNER_DEADLINE_MARGIN_MS),
    bundleMaxBytes: limits.bundleMaxBytes,
    diskMaxBytes: limits.diskMaxMb * 1024 * 1024,
    config: opts.config ?? buildConfigFromEnv(),
    npm: opts.npm ?? resolveNpm(),
  };
  child.stdin.end(JSON.stringify(input));

  try {
    const code = await new Promise<number | null>((resolve, reject) => {
      child.once('error', reject);
      child.once('close', (exitCode) => resolve(exitCode));
    });
    if (killedFor) throw new BuildError(killedFor);
    const line = Buffer.concat(stdout).toString('utf8').trim();
    if (code === 0 && line) {
      const outcome = JSON.parse(line) as ChildOutcome;
      if (outcome.ok) return outcome.result;
      throw new BuildError(outcome.message);
    }
    throw new BuildError(`the bundler crashed on this source (exit ${code}): ${lastError(stderr)}`);
  } finally {
    clearTimeout(deadline);
    clearInterval(sampler);
    opts.signal?.removeEventListener('abort', onAbort);
    kill('the build ended'); // anything of the group still running
  }
}

/**
 * One build child started ahead of time per memory limit: the next build finds a Node process
 * that has already loaded the bundler, and does not wait for one to start (about 0.2 s). It
 * waits on its stdin without holding this process open, and dies with it.
 */
const spares = new Map<number, ChildProcess>();
process.once('exit', () => {
  for (const spare of spares.values()) killGroup(spare);
});

function takeChild(memoryMb: number): ChildProcess {
  const spare = spares.get(memoryMb);
  spares.delete(memoryMb);
  const child = spare && spare.exitCode === null && spare.signalCode === null ? spare : startChild(memoryMb);
  holdOpen(child, true);
  setImmediate(() => {
    if (!spares.has(memoryMb)) spares.set(memoryMb, holdOpen(startChild(memoryMb), false));
  });
  return child;
}

function startChild(memoryMb: number): ChildProcess {
  const child: ChildProcess = spawn(process.execPath, [`--max-old-space-size=${memoryMb}`, childEntry()], {
    detached: true, // its own process group, so the bundler below it dies with it
    stdio: ['pipe', 'pipe', 'pipe'],
    // GOMAXPROCS: the bundler takes one core, whatever the source does
    // (proxy and CA settings pass on to npm and git, which fetch over the operator's network)
    env: {
      ...networkEnv(),
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      GOMEMLIMIT: `${memoryMb}MiB`,
      GOMAXPROCS: '1',
      NODE_ENV: 'production',
    },
  });
  child.on('error', () => undefined); // reported to the build that takes it, if any
  try {
    if (child.pid) setPriority(child.pid, BUILD_NICENESS);
  } catch {
    // not allowed here; the limits below still hold
  }
  return child;
}

/** Whether the child (and its pipes) keep this process running: only while a build uses it. */
function holdOpen(child: ChildProcess, hold: boolean): ChildProcess {
  for (const handle of [child, child.stdin, child.stdout, child.stderr] as (ChildProcess | Socket)[]) {
    if (hold) handle.ref();
    else handle.unref();
  }
  return child;
}

function killGroup(child: ChildProcess): void {
  try {
    process.kill(-child.pid!, 'SIGKILL');
  } catch {
    // already gone
  }
}

/** The error a crashed build printed, without the stack frames that name this machine's files. */
function lastError(stderr: string): string {
  const lines = stderr
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('at ') && !/^(node:|file:|\/)/.test(l) && !/^\^+$/.test(l));
  const error = lines.find((l) => /Error\b/.test(l)) ?? lines.at(-1) ?? 'no message';
  return error.slice(0, STDERR_EXCERPT);
}
