// Every resource a tenant can consume has a named limit here (architecture.md, Limits). Each
// can be changed with the environment variable beside it; the README lists them.

export interface AgentLimits {
  /** The JavaScript heap of one agent version (V8's cap: past it the version aborts and restarts). */
  memoryMb: number;
  /**
   * All memory of one version's process above an idle workerd: the heap, and what lives outside
   * it (ArrayBuffers, connection buffers). workerd's own memory under heavy load is not the
   * agent's (a trivial agent at 100 concurrent connections holds about 460 MiB), so this backstop
   * sits well above the heap limit.
   */
  processMemoryMb: number;
  /** CPU one request may use without returning to the event loop before the version is stopped. */
  cpuMs: number;
  /** How long a JSON invoke may take, first byte to last. */
  invokeTimeoutMs: number;
  /** How long a streamed invoke may run. */
  streamMaxMs: number;
  /** The most an agent may send back for one invoke, JSON or stream. */
  replyMaxBytes: number;
  /** How long a new version may take to start (its module's top level, then listening). */
  startupMs: number;
}

export interface BuildLimits {
  /** How long one build may run. */
  timeoutMs: number;
  /** Memory of the build process and the bundler it runs. */
  memoryMb: number;
  /** The largest bundle a build may produce. */
  bundleMaxBytes: number;
  /** Disk one build may fill: a git checkout and its installed dependencies. */
  diskMaxMb: number;
  /** Builds that run at once on one worker; more wait in Temporal's queue. */
  concurrency: number;
}

export interface Limits {
  agent: AgentLimits;
  build: BuildLimits;
}

const MiB = 1024 * 1024;

/** Cloudflare's numbers where it has one (memory 128 MiB, CPU 30 s); the rest chosen for a hosted agent. */
export const DEFAULT_LIMITS: Limits = {
  agent: {
    memoryMb: 128,
    processMemoryMb: 1024,
    cpuMs: 30_000,
    invokeTimeoutMs: 120_000,
    streamMaxMs: 15 * 60_000,
    replyMaxBytes: 32 * MiB,
    startupMs: 15_000,
  },
  build: { timeoutMs: 60_000, memoryMb: 512, bundleMaxBytes: 10 * MiB, diskMaxMb: 1024, concurrency: 2 },
};

/** The environment variable that changes each limit. */
export const LIMIT_ENV = {
  agent: {
    memoryMb: 'WEBHOST_AGENT_MEMORY_MB',
    processMemoryMb: 'WEBHOST_AGENT_PROCESS_MEMORY_MB',
    cpuMs: 'WEBHOST_AGENT_CPU_MS',
    invokeTimeoutMs: 'WEBHOST_INVOKE_TIMEOUT_MS',
    streamMaxMs: 'WEBHOST_STREAM_MAX_MS',
    replyMaxBytes: 'WEBHOST_REPLY_MAX_BYTES',
    startupMs: 'WEBHOST_AGENT_STARTUP_MS',
  },
  build: {
    timeoutMs: 'WEBHOST_BUILD_TIMEOUT_MS',
    memoryMb: 'WEBHOST_BUILD_MEMORY_MB',
    bundleMaxBytes: 'WEBHOST_BUNDLE_MAX_BYTES',
    diskMaxMb: 'WEBHOST_BUILD_DISK_MAX_MB',
    concurrency: 'WEBHOST_BUILD_CONCURRENCY',
  },
} as const satisfies { [G in keyof Limits]: { [K in keyof Limits[G]]: string } };

function positive(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`${name} must be a positive whole number, not "${raw}"`);
  return n;
}

function group<G extends keyof Limits>(env: NodeJS.ProcessEnv, g: G): Limits[G] {
  const names = LIMIT_ENV[g] as Record<string, string>;
  const defaults = DEFAULT_LIMITS[g] as unknown as Record<string, number>;
  return Object.fromEntries(
    Object.entries(names).map(([k, name]) => [k, positive(env, name, defaults[k]!)]),
  ) as unknown as Limits[G];
}

export function limitsFromEnv(env: NodeJS.ProcessEnv = process.env): Limits {
  return { agent: group(env, 'agent'), build: group(env, 'build') };
}

/**
 * Unrevoked API keys one owner may hold at once (a key costs a row and a lookup per request);
 * one more is `409 conflict` until a key is revoked.
 */
export const API_KEYS_PER_OWNER = 50;

/**
 * Webhook endpoints one owner may have at once (each event is sent to every subscribed one, so
 * they multiply the platform's outbound requests); one more is `409 conflict` until one is deleted.
 */
export const WEBHOOK_ENDPOINTS_PER_OWNER = 10;

/** Deliveries kept per webhook endpoint (`GET /v1/webhooks/:id/deliveries`); older finished ones are deleted. */
export const WEBHOOK_DELIVERIES_PER_ENDPOINT = 1000;
