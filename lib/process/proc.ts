import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

// What the platform reads about its own child processes (agent versions, builds) to hold
// them to their limits. Linux /proc; every reader answers null for a process that is gone.

let ticksPerSecond: number | undefined;
/** Clock ticks per second of /proc's CPU times (`getconf CLK_TCK`, 100 on every Linux we run on). */
function clockTicks(): number {
  if (ticksPerSecond === undefined) {
    try {
      ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      ticksPerSecond = 100;
    }
  }
  return ticksPerSecond;
}

const read = (path: string): string | null => {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return null;
  }
};

/** The direct children of a process. */
export function childPids(pid: number): number[] {
  let tasks: string[];
  try {
    tasks = readdirSync(`/proc/${pid}/task`);
  } catch {
    return [];
  }
  return tasks.flatMap((t) =>
    (read(`/proc/${pid}/task/${t}/children`) ?? '').trim().split(/\s+/).filter(Boolean).map(Number),
  );
}

/** A process and every process below it. */
export function processTree(pid: number): number[] {
  const all = [pid];
  for (let i = 0; i < all.length; i++) all.push(...childPids(all[i]!));
  return all;
}

/** Resident memory in bytes. */
export function rssBytes(pid: number): number | null {
  const kb = /^VmRSS:\s+(\d+) kB$/m.exec(read(`/proc/${pid}/status`) ?? '')?.[1];
  return kb === undefined ? null : Number(kb) * 1024;
}

/** CPU time used so far (user + system), in milliseconds. */
export function cpuMs(pid: number): number | null {
  const stat = read(`/proc/${pid}/stat`);
  if (stat === null) return null;
  // Fields after the command name, which is in parentheses and may contain spaces.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  return ((utime + stime) * 1000) / clockTicks();
}

/** The child of `parent` whose environment holds `NAME=value`. */
export function childWithEnv(parent: number, name: string, value: string): number | null {
  const needle = `${name}=${value}\0`;
  for (const pid of childPids(parent)) {
    if ((read(`/proc/${pid}/environ`) ?? '').includes(needle)) return pid;
  }
  return null;
}
