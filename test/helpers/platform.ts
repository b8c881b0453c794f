import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { ensureLocalKeyPair } from '../../lib/auth/local-keys.js';
import { signLocalToken } from '../../lib/auth/sign.js';
import { stopChild } from '../../lib/temporal/dev-server.js';
import { ensureControlToken } from '../../runtime-local/server.js';
import { freePort } from './ports.js';

const root = resolve(import.meta.dirname, '../..');

export interface PlatformPorts {
  api: number;
  gateway: number;
  runtime: number;
  temporal: number;
  temporalUi: number;
  dashboard: number;
}

export interface RunningPlatform {
  apiUrl: string;
  gatewayUrl: string;
  /** The dashboard, serving dist/web (built by scripts/build-web.ts) and proxying api and gateway. */
  dashboardUrl: string;
  dataDir: string;
  ports: PlatformPorts;
  token(userId: string): Promise<string>;
  /** SIGTERM, and wait for every process to exit. */
  stop(): Promise<void>;
  /** SIGKILL to the whole process group: platform, Temporal server and local runtime die at once. */
  crash(): Promise<void>;
  output(): string;
}

export async function allocatePorts(): Promise<PlatformPorts> {
  return {
    api: await freePort(),
    gateway: await freePort(),
    runtime: await freePort(),
    temporal: await freePort(),
    temporalUi: await freePort(),
    dashboard: await freePort(),
  };
}

/**
 * Starts the platform exactly as `npm start` does (scripts/start.ts, after the bootstrap),
 * as real processes in their own process group, and waits until it says it is ready.
 */
/** What a platform that did not come up said: its error lines first (a debug log buries them), then its last words. */
function whyNotReady(output: string): string {
  const errors = output
    .split('\n')
    .filter((l) => /"level":(50|60)|\bError\b/.test(l))
    .join('\n')
    .slice(0, 3000);
  return `${errors ? `errors:\n${errors}\n` : ''}last lines:\n${output.slice(-2000)}`;
}

export async function startPlatform(
  opts: { dataDir?: string; ports?: PlatformPorts; env?: Record<string, string> } = {},
): Promise<RunningPlatform> {
  const dataDir = opts.dataDir ?? mkdtempSync(join(tmpdir(), 'wh-e2e-'));
  const ports = opts.ports ?? (await allocatePorts());
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', join(root, 'scripts/start.ts')], {
    cwd: root,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      ...process.env,
      WEBHOST_DATA_DIR: dataDir,
      API_PORT: String(ports.api),
      GATEWAY_PORT: String(ports.gateway),
      LOCAL_RUNTIME_PORT: String(ports.runtime),
      TEMPORAL_PORT: String(ports.temporal),
      TEMPORAL_UI_PORT: String(ports.temporalUi),
      DASHBOARD_PORT: String(ports.dashboard),
      LOG_LEVEL: 'warn',
      LOCAL_RUNTIME_DRAIN_MS: '1000',
      TEMPORAL_ADDRESS: '',
      DATABASE_URL: '',
      ...opts.env,
    },
  });
  let output = '';
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  const ready = new Promise<void>((resolveReady, reject) => {
    const onData = (d: Buffer) => {
      output += d.toString();
      if (output.includes('"event":"platform_ready"')) resolveReady();
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    void exited.then((code) =>
      reject(new Error(`platform exited with ${code} before it was ready:\n${whyNotReady(output)}`)),
    );
    setTimeout(() => reject(new Error(`platform not ready after 90 s:\n${whyNotReady(output)}`)), 90_000).unref();
  });
  const killGroup = (signal: NodeJS.Signals) => {
    try {
      process.kill(-child.pid!, signal);
    } catch {
      // already gone
    }
  };
  try {
    await ready;
  } catch (err) {
    killGroup('SIGKILL');
    throw err;
  }
  const { privateKeyPem } = ensureLocalKeyPair(dataDir);
  return {
    apiUrl: `http://127.0.0.1:${ports.api}`,
    gatewayUrl: `http://127.0.0.1:${ports.gateway}`,
    dashboardUrl: `http://127.0.0.1:${ports.dashboard}`,
    dataDir,
    ports,
    token: (userId) => signLocalToken(privateKeyPem, userId),
    async stop() {
      child.kill('SIGTERM');
      const timer = setTimeout(() => killGroup('SIGKILL'), 15_000);
      await exited;
      clearTimeout(timer);
      killGroup('SIGKILL'); // anything the platform failed to stop
    },
    async crash() {
      killGroup('SIGKILL');
      await exited;
      // give the OS a moment to reap the group and free the ports
      await new Promise((r) => setTimeout(r, 500));
    },
    output: () => output,
  };
}

export interface GatewayProcess {
  url: string;
  /** SIGTERM, and wait until it has exited (having written its usage events). */
  stop(): Promise<number | null>;
}

/**
 * One more gateway as its own process (`gateway/main.ts`), serving from the same store,
 * keys and local runtime as a running platform: what `--scale gateway=N` runs.
 */
export async function startGatewayProcess(
  platform: RunningPlatform,
  env: Record<string, string>,
): Promise<GatewayProcess> {
  const gateway = await startProcess('gateway/main.ts', 'gateway_ready', {
    WEBHOST_DATA_DIR: platform.dataDir,
    GATEWAY_PORT: '0',
    LOCAL_RUNTIME_URL: `http://127.0.0.1:${platform.ports.runtime}`,
    ...env,
  });
  return { url: gateway.ready.url as string, stop: gateway.stop };
}

export interface PlatformProcess {
  /** The JSON line the process printed when it was ready. */
  ready: Record<string, unknown>;
  /** SIGTERM, and wait until it has exited. */
  stop(): Promise<number | null>;
  /** SIGKILL (no goodbye: nothing flushed, nothing handed back), and wait until it has exited. */
  kill(): Promise<void>;
  /** Whether it has exited. */
  exited(): boolean;
  output(): string;
}

/**
 * One of the platform's processes on its own (`gateway/main.ts`, `api/main.ts`,
 * `workers/main.ts`), configured by environment only, ready once it prints its
 * `{"event": readyEvent, …}` line.
 */
export async function startProcess(
  script: string,
  readyEvent: string,
  env: Record<string, string>,
): Promise<PlatformProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(root, script)], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, LOG_LEVEL: 'warn', ...env },
  });
  let output = '';
  let gone = false;
  const exited = new Promise<number | null>((r) =>
    child.once('exit', (code) => {
      gone = true;
      r(code);
    }),
  );
  const ready = await new Promise<Record<string, unknown>>((resolveReady, reject) => {
    const onData = (d: Buffer) => {
      output += d.toString();
      for (const line of output.split('\n')) {
        if (!line.startsWith('{"event":')) continue;
        const parsed = JSON.parse(line) as Record<string, unknown>;
        if (parsed.event === readyEvent) resolveReady(parsed);
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    void exited.then((code) => reject(new Error(`${script} exited with ${code}:\n${output.slice(-2000)}`)));
    setTimeout(() => reject(new Error(`${script} not ready after 60 s:\n${output.slice(-2000)}`)), 60_000).unref();
  });
  return {
    ready,
    output: () => output,
    exited: () => gone,
    async kill() {
      child.kill('SIGKILL');
      await exited;
    },
    async stop() {
      if (gone) return exited;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}

export interface SplitPlatform {
  dataDir: string;
  apiUrl: string;
  /** The local runtime's control API and its token. */
  runtimeUrl: string;
  runtimeToken: string;
  /** What every process of this platform is started with (store, Temporal, runtime, data dir). */
  env: Record<string, string>;
  api: PlatformProcess;
  workers: PlatformProcess[];
  gateways: PlatformProcess[];
  token(userId: string): Promise<string>;
  /** One more worker process (`workers/main.ts`), added to `workers`. */
  startWorker(): Promise<PlatformProcess>;
  /** One more gateway process (`gateway/main.ts`) on a port of its own, added to `gateways`. */
  startGateway(env?: Record<string, string>): Promise<PlatformProcess>;
  /** SIGTERM to every process still running, the runtime last. */
  stop(): Promise<void>;
}

/**
 * The scale-out topology without containers (what docker-compose runs): the local runtime,
 * the api, `workers` workers and `gateways` gateways as separate processes, configured by
 * environment only, against one store (`DATABASE_URL`) and one Temporal.
 */
export async function startSplitPlatform(opts: {
  databaseUrl: string;
  temporalAddress: string;
  workers?: number;
  gateways?: number;
  env?: Record<string, string>;
}): Promise<SplitPlatform> {
  const dataDir = mkdtempSync(join(tmpdir(), 'wh-split-'));
  const apiPort = await freePort();
  const runtimePort = await freePort();
  const env = {
    WEBHOST_DATA_DIR: dataDir,
    DATABASE_URL: opts.databaseUrl,
    TEMPORAL_ADDRESS: opts.temporalAddress,
    LOCAL_RUNTIME_URL: `http://127.0.0.1:${runtimePort}`,
    API_PORT: String(apiPort),
    ...opts.env,
  };
  const runtimeToken = ensureControlToken(dataDir);
  const runtime = spawn(process.execPath, ['--import', 'tsx', join(root, 'runtime-local/main.ts')], {
    cwd: root,
    stdio: 'ignore',
    env: { ...process.env, ...env, LOCAL_RUNTIME_PORT: String(runtimePort), LOCAL_RUNTIME_DRAIN_MS: '1000' },
  });
  const runtimeUrl = `http://127.0.0.1:${runtimePort}`;
  const started: PlatformProcess[] = [];
  const stop = async () => {
    await Promise.all(started.map((p) => p.stop()));
    await stopChild(runtime);
  };
  try {
    for (let waited = 0; ; waited += 200) {
      const res = await fetch(`${runtimeUrl}/healthz`, { headers: { authorization: `Bearer ${runtimeToken}` } }).catch(
        () => null,
      );
      if (res?.status === 200) break;
      if (waited > 30_000) throw new Error('the local runtime did not come up within 30 s');
      await new Promise((r) => setTimeout(r, 200));
    }
    // the api first (it migrates the database), then the workers and gateways together
    const api = await startProcess('api/main.ts', 'api_ready', env);
    started.push(api);
    const workers: PlatformProcess[] = [];
    const gateways: PlatformProcess[] = [];
    const startWorker = async () => {
      const w = await startProcess('workers/main.ts', 'worker_ready', env);
      started.push(w);
      workers.push(w);
      return w;
    };
    const startGateway = async (more: Record<string, string> = {}) => {
      const g = await startProcess('gateway/main.ts', 'gateway_ready', { ...env, GATEWAY_PORT: '0', ...more });
      started.push(g);
      gateways.push(g);
      return g;
    };
    await Promise.all([
      ...Array.from({ length: opts.workers ?? 1 }, startWorker),
      ...Array.from({ length: opts.gateways ?? 1 }, () => startGateway()),
    ]);
    const { privateKeyPem } = ensureLocalKeyPair(dataDir);
    return {
      dataDir,
      apiUrl: api.ready.url as string,
      runtimeUrl,
      runtimeToken,
      env,
      api,
      workers,
      gateways,
      token: (userId) => signLocalToken(privateKeyPem, userId),
      startWorker,
      startGateway,
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
