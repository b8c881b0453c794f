import { execFileSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './ports.js';

export interface OwnPostgres {
  /** `postgres://postgres@127.0.0.1:<port>/postgres` */
  url: string;
  /** `pg_ctl stop -m fast`: every connection is cut, the server is down until `start`. */
  stop(): Promise<void>;
  /** `pg_ctl start` on the same port and data directory; resolves once it takes connections. */
  start(): Promise<void>;
  /** Stops it and deletes its cluster. */
  close(): Promise<void>;
}

/**
 * A PostgreSQL server of the test's own, which it may stop and start: a throwaway cluster
 * (initdb, trust auth) in a temp dir, on a free loopback port, run with the machine's
 * PostgreSQL binaries (/usr/lib/postgresql/<newest>/bin). PostgreSQL refuses to run as root,
 * so as root the cluster belongs to the `postgres` user and runs through `runuser`. `{ skip }`
 * with the reason when that cannot be done here (no binaries; neither root nor `postgres`).
 */
export async function startOwnPostgres(): Promise<OwnPostgres | { skip: string }> {
  const versions = existsSync('/usr/lib/postgresql')
    ? readdirSync('/usr/lib/postgresql')
        .filter((v) => existsSync(join('/usr/lib/postgresql', v, 'bin', 'pg_ctl')))
        .sort((a, b) => Number(b) - Number(a))
    : [];
  if (versions.length === 0) return { skip: 'no PostgreSQL binaries under /usr/lib/postgresql/*/bin' };
  const bin = join('/usr/lib/postgresql', versions[0]!, 'bin');
  const uid = process.getuid?.() ?? -1;
  let owner: { uid: number; gid: number } | null = null;
  if (uid === 0) {
    const idOf = (flag: string) => Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8' }).trim());
    try {
      owner = { uid: idOf('-u'), gid: idOf('-g') };
    } catch {
      return { skip: 'running as root and there is no postgres user to run PostgreSQL as' };
    }
  } else if (execFileSync('id', ['-un'], { encoding: 'utf8' }).trim() !== 'postgres') {
    return { skip: 'PostgreSQL runs only as a non-root user we can become: run as root or as postgres' };
  }
  const dir = mkdtempSync(join(tmpdir(), 'wh-pg-'));
  if (owner) chownSync(dir, owner.uid, owner.gid);
  const data = join(dir, 'data');
  const port = await freePort();
  const run = (tool: string, args: string[]) =>
    execFileSync(
      owner ? 'runuser' : join(bin, tool),
      owner ? ['-u', 'postgres', '--', join(bin, tool), ...args] : args,
      { stdio: ['ignore', 'pipe', 'pipe'], timeout: 60_000 },
    );
  run('initdb', ['-D', data, '-U', 'postgres', '-A', 'trust', '--no-sync', '-E', 'UTF8']);
  const pgCtl = (...args: string[]) => run('pg_ctl', ['-D', data, '-w', '-t', '30', ...args]);
  const start = async () => {
    pgCtl(
      '-l',
      join(dir, 'log'),
      '-o',
      `-p ${port} -c listen_addresses=127.0.0.1 -k ${dir} -c fsync=off -c max_connections=100`,
      'start',
    );
  };
  const stop = async () => {
    pgCtl('-m', 'fast', 'stop');
  };
  await start();
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    start,
    stop,
    async close() {
      try {
        pgCtl('-m', 'immediate', 'stop');
      } catch {
        // already stopped
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
