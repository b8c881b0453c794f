import { createHash, randomBytes } from 'node:crypto';
import {
  copyFileSync,
  existsSync,
  linkSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { delimiter, join } from 'node:path';
import type { PackageJson } from '../contracts/index.js';
import { BuildError } from './errors.js';
import { runBounded } from './run.js';

/** How much of npm's output an install error quotes. */
const OUTPUT_KEEP = 8_000;
const ERROR_LINES = 6;
/** Bump when what a cache entry holds changes shape: old entries are then never hit again. */
const CACHE_FORMAT = 1;

/** Fields of package.json that decide what an install puts in node_modules. */
const INSTALL_FIELDS = [
  'dependencies',
  'optionalDependencies',
  'peerDependencies',
  'peerDependenciesMeta',
  'overrides',
  'bundleDependencies',
  'bundledDependencies',
] as const;

/**
 * The command that runs npm: `WEBHOST_NPM_CLI` (npm's `bin/npm-cli.js`) or npm on PATH, run
 * by this process's Node when it is a Node script, so npm runs on the platform's Node.
 */
export function resolveNpm(env: NodeJS.ProcessEnv = process.env): string[] {
  if (env.WEBHOST_NPM_CLI) return [process.execPath, env.WEBHOST_NPM_CLI];
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    const candidate = join(dir, 'npm');
    if (!existsSync(candidate)) continue;
    let script = false;
    try {
      script = readFileSync(candidate, 'utf8').slice(0, 64).startsWith('#!/usr/bin/env node');
    } catch {
      // not readable: run it as it is
    }
    return script ? [process.execPath, candidate] : [candidate];
  }
  return ['npm'];
}

/**
 * Refuses dependencies that do not come from the registry: `file:`, `link:`, git, URLs and
 * GitHub shorthands could read the build machine's files or reach its network, and
 * `workspaces` link the project's own folders into node_modules. `npm:` aliases are registry
 * packages and allowed.
 */
export function dependencyRefusal(pkg: PackageJson): string | null {
  if (pkg.workspaces !== undefined) return 'package.json workspaces are not supported; deploy one package';
  for (const field of ['dependencies', 'optionalDependencies', 'peerDependencies'] as const) {
    for (const [name, spec] of Object.entries(pkg[field] ?? {})) {
      const s = String(spec).trim();
      const aliased = /^npm:(@[a-z0-9._~-]+\/)?[a-z0-9._~-]+(@[^:/\s]*)?$/i.test(s);
      if (!aliased && /[:/\\]/.test(s))
        return `dependency ${name} ("${s.slice(0, 100)}") is not a registry version; only registry packages can be installed`;
    }
  }
  return null;
}

/**
 * Refuses a lockfile that resolves a package anywhere but the registry, or links a local
 * folder: npm would fetch whatever URL it names.
 */
export function lockfileRefusal(lockText: string, registry: string): string | null {
  let lock: { packages?: Record<string, { resolved?: unknown; link?: unknown }> };
  try {
    lock = JSON.parse(lockText) as typeof lock;
  } catch {
    return 'package-lock.json is not valid JSON';
  }
  const allowed = [registry, 'https://registry.npmjs.org/'];
  for (const [path, entry] of Object.entries(lock.packages ?? {})) {
    if (path === '') continue;
    if (!path.startsWith('node_modules/') || entry.link)
      return `package-lock.json links a local folder ("${path.slice(0, 100)}"); only registry packages can be installed`;
    if (typeof entry.resolved === 'string' && !allowed.some((r) => (entry.resolved as string).startsWith(r)))
      return `package-lock.json resolves ${path.replace(/^.*node_modules\//, '')} from outside the registry; only registry packages can be installed`;
  }
  return null;
}

/**
 * The content address of an install: the lockfile (or, without one, the manifest's
 * dependency fields), the target's export conditions, and this machine's platform. Two
 * projects with the same lockfile share one cache entry, whoever owns them.
 */
export function depsCacheKey(input: {
  lockfile: string | null;
  pkg: PackageJson;
  conditions: readonly string[];
}): string {
  const manifest = Object.fromEntries(
    INSTALL_FIELDS.filter((f) => (input.pkg as Record<string, unknown>)[f] !== undefined).map((f) => [
      f,
      (input.pkg as Record<string, unknown>)[f],
    ]),
  );
  const material = JSON.stringify({
    format: CACHE_FORMAT,
    lockfile: input.lockfile,
    manifest: input.lockfile === null ? sortKeys(manifest) : manifest,
    conditions: input.conditions,
    omit: 'dev',
    platform: `${process.platform}-${process.arch}`,
  });
  return createHash('sha256').update(material).digest('hex');
}

function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v && typeof v === 'object')
    return Object.fromEntries(
      Object.keys(v)
        .sort()
        .map((k) => [k, sortKeys((v as Record<string, unknown>)[k])]),
    );
  return v;
}

export interface InstallOptions {
  /** The project folder, with its package.json. */
  dir: string;
  pkg: PackageJson;
  conditions: readonly string[];
  cacheDir: string;
  cacheMaxBytes: number;
  npmCacheDir: string;
  registry: string;
  npm: readonly string[];
  /** A private scratch folder for npm's home and config. */
  scratch: string;
  timeoutMs: number;
  diskMaxBytes: number;
  signal?: AbortSignal | undefined;
}

export type InstallOutcome = { installed: 'none' } | { installed: 'cache' | 'npm'; key: string };

/**
 * Installs a project's runtime dependencies (not devDependencies: the bundle needs only what
 * the code imports) from the registry, never running a package's scripts. The lockfile is
 * honoured (`npm ci`) when there is one. A content-addressed cache keeps each install: a
 * project whose key is cached gets its node_modules linked from there and npm is not run.
 */
export async function installDependencies(opts: InstallOptions): Promise<InstallOutcome> {
  const refusal = dependencyRefusal(opts.pkg);
  if (refusal) throw new BuildError(refusal);
  const deps = { ...opts.pkg.dependencies, ...opts.pkg.optionalDependencies, ...opts.pkg.peerDependencies };
  if (Object.keys(deps).length === 0) return { installed: 'none' };

  const lockName = ['npm-shrinkwrap.json', 'package-lock.json'].find((f) => existsSync(join(opts.dir, f)));
  const lockfile = lockName ? readFileSync(join(opts.dir, lockName), 'utf8') : null;
  if (lockfile !== null) {
    const bad = lockfileRefusal(lockfile, opts.registry);
    if (bad) throw new BuildError(bad);
  }
  const key = depsCacheKey({ lockfile, pkg: opts.pkg, conditions: opts.conditions });
  const target = join(opts.dir, 'node_modules');
  rmSync(target, { recursive: true, force: true });

  const entry = join(opts.cacheDir, key);
  if (existsSync(join(entry, 'complete'))) {
    try {
      linkTree(join(entry, 'node_modules'), target);
      const now = new Date();
      utimesSync(entry, now, now); // least recently used goes first
      return { installed: 'cache', key };
    } catch {
      // evicted while linking: install afresh
      rmSync(target, { recursive: true, force: true });
    }
  }

  await runNpm(opts, lockfile !== null);
  const bytes = treeBytes(target);
  if (bytes > opts.diskMaxBytes)
    throw new BuildError(
      `dependencies take ${mb(bytes)} MB installed, over the ${mb(opts.diskMaxBytes)} MB build disk limit`,
    );
  storeInCache(opts.cacheDir, key, target, bytes, opts.cacheMaxBytes);
  // npm's own download cache is bounded too: past half the dependency cache's size it starts over
  if (treeBytes(opts.npmCacheDir) > opts.cacheMaxBytes / 2) rmSync(opts.npmCacheDir, { recursive: true, force: true });
  return { installed: 'npm', key };
}

async function runNpm(opts: InstallOptions, hasLockfile: boolean): Promise<void> {
  // The project's own npm config could point at another registry or turn scripts back on.
  for (const rc of ['.npmrc', '.yarnrc', '.yarnrc.yml']) rmSync(join(opts.dir, rc), { force: true });
  const home = join(opts.scratch, 'home');
  mkdirSync(home, { recursive: true });
  const emptyRc = join(opts.scratch, 'npmrc');
  writeFileSync(emptyRc, '');
  const args = [
    hasLockfile ? 'ci' : 'install',
    '--ignore-scripts',
    '--no-audit',
    '--no-fund',
    '--omit=dev',
    '--prefer-offline',
    '--no-update-notifier',
    '--logs-max=0',
    '--loglevel=error',
    `--registry=${opts.registry}`,
    `--cache=${opts.npmCacheDir}`,
    // the operator's machine-wide npm config (a CA file, a proxy) applies; no user's does
    `--userconfig=${emptyRc}`,
  ];
  const [cmd, ...pre] = opts.npm;
  const { code, output, timedOut } = await runBounded(cmd!, [...pre, ...args], {
    cwd: opts.dir,
    env: {
      ...networkEnv(),
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: home,
      NODE_ENV: 'production',
      npm_config_cache: opts.npmCacheDir,
    },
    timeoutMs: opts.timeoutMs,
    signal: opts.signal,
    keepBytes: OUTPUT_KEEP,
  });
  if (timedOut)
    throw new BuildError(`install took longer than ${Math.round(opts.timeoutMs / 1000)} s (build time limit)`);
  if (code !== 0) throw new BuildError(`install failed: ${npmError(output, opts)}`);
}

/** The operator's proxy and certificate settings, which npm and git need to reach the registry or a host. */
const NETWORK_ENV =
  /^(https?_proxy|no_proxy|all_proxy|node_extra_ca_certs|ssl_cert_file|ssl_cert_dir|git_ssl_cainfo)$/i;

export function networkEnv(env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  return Object.fromEntries(
    Object.entries(env).filter((e): e is [string, string] => NETWORK_ENV.test(e[0]) && typeof e[1] === 'string'),
  );
}

/** npm's last error lines, without this machine's paths. */
function npmError(output: string, opts: InstallOptions): string {
  const lines = output
    .split('\n')
    .map((l) =>
      l
        .replaceAll(opts.dir, '.')
        .replaceAll(opts.scratch, '~')
        .replaceAll(opts.npmCacheDir, '<cache>')
        .replace(/^npm (error|ERR!)\s*/, '')
        .replace(/^(404|notarget|code|ERESOLVE)\s+/, '')
        .trim(),
    )
    .filter(
      (l) =>
        l &&
        !/^(404|E[A-Z0-9]+|code E\w+|errno .*|syscall .*|path .*)$|A complete log of this run|Log files were not written|To see a list|^Ran npm|Note that you can also install from|tarball, folder, http url/.test(
          l,
        ),
    );
  return lines.slice(-ERROR_LINES).join('\n') || 'npm exited without saying why';
}

/**
 * Recreates a tree of real files under `to` as hard links (copies across filesystems).
 * Symbolic links (npm's `.bin`) are left out: a bundle never needs them.
 */
export function linkTree(from: string, to: string): void {
  mkdirSync(to, { recursive: true });
  for (const e of readdirSync(from, { withFileTypes: true })) {
    const src = join(from, e.name);
    const dst = join(to, e.name);
    if (e.isDirectory()) linkTree(src, dst);
    else if (e.isFile()) {
      try {
        linkSync(src, dst);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EEXIST') continue;
        copyFileSync(src, dst);
      }
    }
  }
}

/** Bytes of the regular files in a tree (links not followed). */
export function treeBytes(dir: string): number {
  let n = 0;
  if (!existsSync(dir)) return 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) n += treeBytes(p);
    else if (e.isFile()) n += lstatSync(p).size;
  }
  return n;
}

/** Puts an install in the cache (atomically: a rename), then evicts least recently used entries past the size limit. */
function storeInCache(cacheDir: string, key: string, nodeModules: string, bytes: number, maxBytes: number): void {
  if (bytes > maxBytes) return; // would evict everything and itself
  mkdirSync(cacheDir, { recursive: true });
  const entry = join(cacheDir, key);
  if (existsSync(entry)) return;
  const tmp = join(cacheDir, `.tmp-${key}-${randomBytes(4).toString('hex')}`);
  try {
    linkTree(nodeModules, join(tmp, 'node_modules'));
    writeFileSync(join(tmp, 'size'), String(bytes));
    writeFileSync(join(tmp, 'complete'), '');
    renameSync(tmp, entry);
  } catch {
    // another build stored the same key first, or the disk is full: the build goes on without caching
    rmSync(tmp, { recursive: true, force: true });
    return;
  }
  evict(cacheDir, maxBytes, key);
}

/** Removes least recently used entries until the cache is within `maxBytes`; `keep` stays. */
export function evict(cacheDir: string, maxBytes: number, keep?: string): void {
  const entries = readdirSync(cacheDir, { withFileTypes: true })
    .filter((e) => e.isDirectory() && !e.name.startsWith('.'))
    .map((e) => {
      const dir = join(cacheDir, e.name);
      let size = 0;
      try {
        size = Number(readFileSync(join(dir, 'size'), 'utf8')) || 0;
      } catch {
        // incomplete: counts as empty, and goes first
      }
      return { name: e.name, dir, size, used: statSync(dir).mtimeMs };
    })
    .sort((a, b) => a.used - b.used);
  let total = entries.reduce((n, e) => n + e.size, 0);
  for (const e of entries) {
    if (total <= maxBytes) break;
    if (e.name === keep) continue;
    rmSync(e.dir, { recursive: true, force: true });
    total -= e.size;
  }
}

const mb = (bytes: number) => (bytes / (1024 * 1024)).toFixed(1);
