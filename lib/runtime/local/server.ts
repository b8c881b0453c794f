import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { serve, type ServerType } from '@hono/node-server';
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

export async function startLocalRuntime(opts: { dataDir: string; port: number; drainMs?: number; log?: (msg: string) => void }): Promise<LocalRuntime> {
  const token = ensureControlToken(opts.dataDir);
  const host = new LocalRuntimeHost({ dataDir: join(opts.dataDir, 'runtime'), drainMs: opts.drainMs ?? 30_000, ...(opts.log ? { log: opts.log } : {}) });
  await host.boot();
  const app = createControlApi(host, token);
  const server = await new Promise<ServerType>((resolve) => {
    const s = serve({ fetch: app.fetch, port: opts.port, hostname: '127.0.0.1' }, () => resolve(s));
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : opts.port;
  return {
    url: `http://127.0.0.1:${port}`,
    token,
    host,
    async close() {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await host.close();
    },
  };
}
