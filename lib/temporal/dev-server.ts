import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { Connection } from '@temporalio/client';
import { SEARCH_ATTRIBUTES } from './search-attributes.js';

/** The Temporal CLI version we build from the Go module (later tags cannot be `go install`ed). */
export const TEMPORAL_CLI_VERSION = 'v1.5.1';

/** `TEMPORAL_CLI`, else the copy `scripts/ensure-temporal.sh` built under `~/.cache`, else `temporal` on PATH. */
export function temporalCliPath(env: NodeJS.ProcessEnv = process.env): string {
  if (env.TEMPORAL_CLI) return env.TEMPORAL_CLI;
  const cached = join(
    env.XDG_CACHE_HOME ?? join(homedir(), '.cache'),
    'webhost',
    `temporal-${TEMPORAL_CLI_VERSION}`,
    'temporal',
  );
  return existsSync(cached) ? cached : 'temporal';
}

export interface DevServer {
  address: string;
  uiUrl: string | null;
  stop(): Promise<void>;
}

/**
 * Starts `temporal server start-dev` with our search attributes registered and waits until
 * it answers. `dbFile` keeps history across restarts (SQLite); without it state is in memory.
 */
export async function startDevServer(opts: {
  port: number;
  uiPort: number | null;
  dbFile?: string;
  namespace?: string;
  stdio?: 'inherit' | 'ignore';
  /** The codec server the UI decodes payloads with (the api's `/codec`). */
  uiCodecEndpoint?: string;
}): Promise<DevServer> {
  const address = `127.0.0.1:${opts.port}`;
  const args = [
    'server',
    'start-dev',
    '--ip',
    '127.0.0.1',
    '--port',
    String(opts.port),
    '--namespace',
    opts.namespace ?? 'default',
    '--log-level',
    'error',
    ...(opts.dbFile ? ['--db-filename', opts.dbFile] : []),
    ...(opts.uiPort === null ? ['--headless'] : ['--ui-port', String(opts.uiPort)]),
    ...(opts.uiPort !== null && opts.uiCodecEndpoint ? ['--ui-codec-endpoint', opts.uiCodecEndpoint] : []),
    ...SEARCH_ATTRIBUTES.flatMap((k) => ['--search-attribute', `${k.name}=Keyword`]),
    // Task queues dispatch by fairness key (the tenant), so one tenant's backlog of builds
    // cannot hold back another's.
    '--dynamic-config-value',
    'matching.enableFairness=true',
  ];
  const child = spawn(temporalCliPath(), args, { stdio: ['ignore', opts.stdio ?? 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-4000);
    if (opts.stdio === 'inherit') process.stderr.write(d);
  });
  const exited = new Promise<never>((_, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`temporal dev server exited with ${code}: ${stderr.trim()}`)));
  });
  exited.catch(() => undefined);
  await Promise.race([waitForTemporal(address, 60_000), exited]);
  return {
    address,
    uiUrl: opts.uiPort === null ? null : `http://127.0.0.1:${opts.uiPort}`,
    stop: () => stopChild(child),
  };
}

export async function waitForTemporal(address: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const connection = await Connection.connect({ address, connectTimeout: 1000 });
      await connection.workflowService.getSystemInfo({});
      await connection.close();
      return;
    } catch (err) {
      if (Date.now() > deadline)
        throw new Error(`Temporal at ${address} did not answer within ${timeoutMs} ms: ${String(err)}`);
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}

export function stopChild(child: ChildProcess, graceMs = 5000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}
