import { spawn } from 'node:child_process';

export interface BoundedRun {
  /** The exit code; -1 when the command could not be started. */
  code: number | null;
  /** The last `keepBytes` of stdout and stderr, interleaved as they came. */
  output: string;
  timedOut: boolean;
}

/**
 * Runs a command a build needs (npm, git) with a time limit and the build's abort signal,
 * either of which kills it (SIGKILL), keeping only the tail of its output. Never throws:
 * a command that cannot start answers code -1 with the reason in `output`.
 */
export function runBounded(
  command: string,
  args: string[],
  opts: {
    cwd?: string | undefined;
    env: NodeJS.ProcessEnv;
    timeoutMs: number;
    signal?: AbortSignal | undefined;
    keepBytes: number;
  },
): Promise<BoundedRun> {
  const child = spawn(command, args, { cwd: opts.cwd, stdio: ['ignore', 'pipe', 'pipe'], env: opts.env });
  let output = '';
  const take = (d: Buffer) => {
    output = (output + d.toString()).slice(-opts.keepBytes);
  };
  child.stdout.on('data', take);
  child.stderr.on('data', take);
  let timedOut = false;
  const kill = () => child.kill('SIGKILL');
  const timer = setTimeout(() => {
    timedOut = true;
    kill();
  }, opts.timeoutMs);
  opts.signal?.addEventListener('abort', kill, { once: true });
  return new Promise((resolve) => {
    const done = (code: number | null, more = '') => {
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', kill);
      resolve({ code, output: output + more, timedOut });
    };
    child.once('error', (err) => done(-1, `\ncould not run ${command}: ${err.message}`));
    child.once('close', (code) => done(code));
  });
}
