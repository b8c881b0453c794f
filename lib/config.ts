import { resolve } from 'node:path';

/** Where each process listens and where the platform keeps its embedded state. */
export interface PlatformConfig {
  dataDir: string;
  apiPort: number;
  gatewayPort: number;
  runtimePort: number;
  /**
   * Where the local runtime listens, its control API and its agents' workerd ports:
   * `LOCAL_RUNTIME_HOST`, loopback unless the platform's other processes are on other hosts
   * (containers); every call to an agent carries its deployment's invoke token.
   */
  runtimeHost: string;
  /** The dashboard (web/), with its proxy to the api and the gateway. */
  dashboardPort: number;
  temporal: {
    /** An external Temporal; when absent the platform starts the dev server. */
    address: string | undefined;
    namespace: string;
    devPort: number;
    uiPort: number;
  };
}

const port = (v: string | undefined, fallback: number) => {
  if (v === undefined || v === '') return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new Error(`not a port: ${v}`);
  return n;
};

export function configFromEnv(env: NodeJS.ProcessEnv = process.env): PlatformConfig {
  return {
    dataDir: resolve(env.WEBHOST_DATA_DIR ?? '.data'),
    apiPort: port(env.API_PORT, 3000),
    gatewayPort: port(env.GATEWAY_PORT, 8787),
    runtimePort: port(env.LOCAL_RUNTIME_PORT, 8790),
    runtimeHost: env.LOCAL_RUNTIME_HOST || '127.0.0.1',
    dashboardPort: port(env.DASHBOARD_PORT, 5173),
    temporal: {
      address: env.TEMPORAL_ADDRESS || undefined,
      namespace: env.TEMPORAL_NAMESPACE ?? 'default',
      devPort: port(env.TEMPORAL_PORT, 7233),
      uiPort: port(env.TEMPORAL_UI_PORT, 8233),
    },
  };
}

/**
 * `WEBHOST_PUBLIC_API_URL`: where the api answers from the internet (`https://api.example.com`).
 * Agents on the cloud runtimes (Cloudflare, AgentCore) post their telemetry to its
 * `/v1/telemetry`; unset, those runtimes record none (the local runtime needs it not: its
 * agents reach the api through a service binding).
 */
export function publicApiUrlFromEnv(env: NodeJS.ProcessEnv = process.env): string | null {
  const raw = env.WEBHOST_PUBLIC_API_URL?.trim();
  if (!raw) return null;
  if (!/^https?:\/\/[^/@\s]+(\/\S*)?$/.test(raw))
    throw new Error(`WEBHOST_PUBLIC_API_URL must be an http(s) URL without credentials, not "${raw}"`);
  return raw;
}

/** What workerd's network allow list accepts: its named ranges, or an address range in CIDR form. */
const EGRESS_ENTRY = /^(public|private|local|network|unix|unix-abstract|[0-9a-fA-F.:]+\/\d{1,3})$/;

/**
 * What agents may connect to: public addresses only, widened by `WEBHOST_AGENT_EGRESS`
 * (comma-separated workerd allow-list entries, e.g. `10.1.0.0/16` for a private API an
 * operator trusts). Loopback and private ranges stay closed unless named here.
 */
export function agentEgressFromEnv(env: NodeJS.ProcessEnv = process.env): string[] {
  const extra = (env.WEBHOST_AGENT_EGRESS ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  for (const entry of extra) {
    if (!EGRESS_ENTRY.test(entry))
      throw new Error(`WEBHOST_AGENT_EGRESS: "${entry}" is not a workerd allow-list entry`);
  }
  return ['public', ...extra];
}

/** Where builds work and keep their dependency cache, and where their sources may come from. */
export interface BuildConfig {
  /** Scratch folders of running builds (one per build, removed when it ends). */
  workDir: string;
  /** Installed dependencies by content address (lockfile + target), shared by every build. */
  depsCacheDir: string;
  /** The dependency cache's size; past it the least recently used entries go. */
  depsCacheMaxBytes: number;
  /** npm's own download cache (tarballs checked by their integrity hashes). */
  npmCacheDir: string;
  /** The registry every dependency comes from; a lockfile resolving elsewhere is refused. */
  npmRegistry: string;
  /** Folders `file://` git sources may be read from; none unless the operator names them. */
  gitLocalRoots: string[];
}

/**
 * Build settings: everything under `<dataDir>/build`; `WEBHOST_DEPS_CACHE_MAX_MB` (default
 * 2048), `WEBHOST_NPM_REGISTRY` (default https://registry.npmjs.org/), and
 * `WEBHOST_GIT_LOCAL_ROOTS` (absolute folders separated by `:`, for `file://` git sources).
 */
export function buildConfigFromEnv(env: NodeJS.ProcessEnv = process.env, dataDir?: string): BuildConfig {
  const root = resolve(dataDir ?? configFromEnv(env).dataDir, 'build');
  const cacheMb = env.WEBHOST_DEPS_CACHE_MAX_MB ? Number(env.WEBHOST_DEPS_CACHE_MAX_MB) : 2048;
  if (!Number.isInteger(cacheMb) || cacheMb <= 0)
    throw new Error(
      `WEBHOST_DEPS_CACHE_MAX_MB must be a positive whole number, not "${env.WEBHOST_DEPS_CACHE_MAX_MB}"`,
    );
  const registry = env.WEBHOST_NPM_REGISTRY || 'https://registry.npmjs.org/';
  if (!/^https?:\/\/[^/@\s]+(\/\S*)?$/.test(registry))
    throw new Error(`WEBHOST_NPM_REGISTRY must be an http(s) URL without credentials, not "${registry}"`);
  return {
    workDir: resolve(root, 'work'),
    depsCacheDir: resolve(root, 'deps-cache'),
    depsCacheMaxBytes: cacheMb * 1024 * 1024,
    npmCacheDir: resolve(root, 'npm-cache'),
    npmRegistry: registry.endsWith('/') ? registry : `${registry}/`,
    gitLocalRoots: gitLocalRootsFromEnv(env),
  };
}

/** `WEBHOST_GIT_LOCAL_ROOTS`: absolute folders, separated by `:`. */
export function gitLocalRootsFromEnv(env: NodeJS.ProcessEnv = process.env): string[] {
  const roots = (env.WEBHOST_GIT_LOCAL_ROOTS ?? '')
    .split(':')
    .map((s) => s.trim())
    .filter(Boolean);
  for (const r of roots)
    if (!r.startsWith('/')) throw new Error(`WEBHOST_GIT_LOCAL_ROOTS: "${r}" is not an absolute folder`);
  return roots.map((r) => resolve(r));
}
