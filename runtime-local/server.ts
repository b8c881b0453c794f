import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { listen } from '../lib/http/serve.js';
import { DEFAULT_LIMITS, type AgentLimits } from '../lib/limits.js';
import { createControlApi } from './control-api.js';
import { LocalRuntimeHost } from './host.js';

/** The control token shared by the local runtime and the platform processes through the data dir. */
export function ensureControlToken(dataDir: string): string {
  const path = join(dataDir, 'runtime', 'control-token');
  if (!existsSync(path)) {
    mkdirSync(join(dataDir, 'runtime'), { recursive: true });
    try {
      writeFileSync(path, randomBytes(32).toString('base64url'), { mode: 0o600, flag: 'wx' });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
  }
  return readFileSync(path, 'utf8').trim();
}

export interface LocalRuntime {
  url: string;
  token: string;
  host: LocalRuntimeHost;
  close(): Promise<void>;
}

export async function startLocalRuntime(opts: {
  dataDir: string;
  port: number;
  /** The address the control API and the agents' workerd ports listen on; loopback by default. */
  host?: string;
  drainMs?: number;
  limits?: AgentLimits;
  /** What agents may connect to (workerd's network allow list); public addresses only by default. */
  egress?: string[];
  /** The api's `POST /v1/telemetry` URL, reached by shims through a service binding (host.ts). */
  telemetryUrl?: string;
  log?: (msg: string) => void;
}): Promise<LocalRuntime> {
  const token = ensureControlToken(opts.dataDir);
  const host = new LocalRuntimeHost({
    dataDir: join(opts.dataDir, 'runtime'),
    drainMs: opts.drainMs ?? 30_000,
    limits: opts.limits ?? DEFAULT_LIMITS.agent,
    egress: opts.egress ?? ['public'],
    host: opts.host ?? '127.0.0.1',
    ...(opts.telemetryUrl ? { telemetryUrl: opts.telemetryUrl } : {}),
    ...(opts.log ? { log: opts.log } : {}),
  });
  await host.boot();
  const app = createControlApi(host, token);
  const server = await listen(app.fetch, opts.port, opts.host ?? '127.0.0.1').catch(async (err: unknown) => {
    await host.close();
    throw err;
  });
  return {
    url: server.url,
    token,
    host,
    async close() {
      await server.close();
      await host.close();
    },
  };
}
