import { mkdirSync, realpathSync } from 'node:fs';
import { join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { networkEnv } from './deps.js';
import { BuildError } from './errors.js';
import { runBounded, type BoundedRun } from './run.js';

/** How much of git's output an error quotes. */
const OUTPUT_EXCERPT = 2_000;
const FULL_SHA = /^[0-9a-f]{40}$/;

/**
 * Whether a git URL may be fetched on this platform: `https://`, or `file://` inside one of the
 * operator's `WEBHOST_GIT_LOCAL_ROOTS`. The contract (`GitUrl`) has already refused other
 * schemes and credentials. Returns the refusal, or null. With `real`, the path is also resolved
 * through symbolic links (the build's check; the api may not see the build's filesystem).
 */
export function gitUrlRefusal(
  url: string,
  localRoots: readonly string[],
  opts: { real?: boolean } = {},
): string | null {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return 'not a URL: give an https:// or file:// git URL';
  }
  if (parsed.username || parsed.password) return 'credentials in git URLs are not accepted; use a public https URL';
  if (parsed.protocol === 'https:') return null;
  if (parsed.protocol !== 'file:') return `git URLs must be https:// (or file:// on allowed folders)`;
  let path: string;
  try {
    path = resolve(fileURLToPath(parsed));
    if (opts.real) path = realpathSync(path);
  } catch {
    return opts.real ? `the git repository ${url} does not exist` : 'not a file:// URL of an absolute path';
  }
  const inside = localRoots.some((root) => {
    let r = root;
    try {
      if (opts.real) r = realpathSync(root);
    } catch {
      return false;
    }
    return path === r || path.startsWith(r.endsWith(sep) ? r : r + sep);
  });
  return inside
    ? null
    : localRoots.length === 0
      ? 'file:// git URLs are not enabled on this platform (WEBHOST_GIT_LOCAL_ROOTS is empty); use an https URL'
      : 'this file:// git URL is outside the folders this platform allows (WEBHOST_GIT_LOCAL_ROOTS)';
}

export interface CloneInput {
  url: string;
  ref: string;
  /** An empty or absent folder to check the ref out into. */
  into: string;
  timeoutMs: number;
  localRoots: readonly string[];
  signal?: AbortSignal;
}

/**
 * Checks out one ref of a repository, shallow, and returns the commit it is at. The ref is a
 * branch or tag (`clone --depth 1 --branch`) or a full commit sha (`fetch --depth 1 <sha>`).
 * Git runs with no system or user config, no hooks, no prompts, symbolic links checked out as
 * plain files (so nothing in the checkout points outside it), only the protocol of this URL,
 * and a time limit; an error says which of those it met.
 */
export async function cloneGit(input: CloneInput): Promise<{ commitSha: string }> {
  const refusal = gitUrlRefusal(input.url, input.localRoots, { real: true });
  if (refusal) throw new BuildError(refusal);
  const protocol = new URL(input.url).protocol.replace(':', '');
  const deadline = Date.now() + input.timeoutMs;
  const git = (args: string[], cwd?: string) =>
    runGit(args, { cwd, protocol, timeoutMs: Math.max(1, deadline - Date.now()), signal: input.signal });

  mkdirSync(input.into, { recursive: true });
  let result: BoundedRun;
  if (FULL_SHA.test(input.ref)) {
    await git(['init', '-q', input.into]);
    result = await git(['fetch', '-q', '--depth', '1', '--no-tags', '--', input.url, input.ref], input.into);
    if (result.code === 0) result = await git(['checkout', '-q', '--detach', 'FETCH_HEAD'], input.into);
  } else {
    result = await git([
      'clone',
      '-q',
      '--depth',
      '1',
      '--single-branch',
      '--no-tags',
      '--branch',
      input.ref,
      '--',
      input.url,
      input.into,
    ]);
  }
  if (result.timedOut)
    throw new BuildError(`git fetch of ${input.url} took longer than the build allows (build time limit)`);
  if (result.code !== 0) {
    const out = result.output;
    if (
      /Remote branch .* not found|couldn't find remote ref|not our ref|upload-pack: not our ref|no such remote ref/i.test(
        out,
      )
    )
      throw new BuildError(
        `ref ${input.ref} not found in ${input.url}` +
          (/^[0-9a-f]{7,39}$/.test(input.ref) ? ' (give a branch, a tag or a full 40-character commit sha)' : ''),
      );
    if (/does not appear to be a git repository|Could not read from remote|not found|Repository not found/i.test(out))
      throw new BuildError(`could not read the git repository ${input.url}`);
    throw new BuildError(`git could not fetch ${input.ref} from ${input.url}: ${lastLines(out)}`);
  }
  const head = await git(['rev-parse', 'HEAD'], input.into);
  const commitSha = head.output.trim();
  if (head.code !== 0 || !/^[0-9a-f]{40}$/.test(commitSha))
    throw new BuildError(`git could not tell which commit ${input.ref} is: ${lastLines(head.output)}`);
  return { commitSha };
}

function runGit(
  args: string[],
  opts: { cwd?: string | undefined; protocol: string; timeoutMs: number; signal?: AbortSignal | undefined },
): Promise<BoundedRun> {
  const home = opts.cwd ?? '/nonexistent';
  return runBounded(
    'git',
    [
      '-c',
      'core.hooksPath=/dev/null',
      '-c',
      'core.symlinks=false',
      '-c',
      'core.fsmonitor=false',
      '-c',
      'protocol.allow=never',
      '-c',
      `protocol.${opts.protocol}.allow=always`,
      '-c',
      'submodule.recurse=false',
      '-c',
      'advice.detachedHead=false',
      ...args,
    ],
    {
      cwd: opts.cwd,
      env: {
        ...networkEnv(),
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        HOME: home,
        GIT_TERMINAL_PROMPT: '0',
        GIT_ASKPASS: '/bin/false',
        SSH_ASKPASS: '/bin/false',
        GIT_CONFIG_NOSYSTEM: '1',
        GIT_CONFIG_GLOBAL: '/dev/null',
        GIT_ALLOW_PROTOCOL: opts.protocol,
        GIT_LFS_SKIP_SMUDGE: '1',
        LC_ALL: 'C',
      },
      timeoutMs: opts.timeoutMs,
      signal: opts.signal,
      keepBytes: OUTPUT_EXCERPT * 2,
    },
  );
}

function lastLines(out: string): string {
  return out.trim().split('\n').slice(-3).join(' ').slice(-OUTPUT_EXCERPT) || 'no output';
}

/** The folder of a source inside its checkout, refusing one that leaves it. */
export function projectFolder(checkout: string, path: string | undefined): string {
  const dir = resolve(join(checkout, path ?? '.'));
  if (dir !== checkout && !dir.startsWith(checkout + sep)) throw new BuildError(`path "${path}" leaves the repository`);
  return dir;
}
