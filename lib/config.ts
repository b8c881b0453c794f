import { resolve } from 'node:path';

/** Where each process listens and where the platform keeps its embedded state. */
export interface PlatformConfig {
  dataDir: string;
  apiPort: number;
  gatewayPort: number;
  runtimePort: number;
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
    temporal: {
      address: env.TEMPORAL_ADDRESS || undefined,
      namespace: env.TEMPORAL_NAMESPACE ?? 'default',
      devPort: port(env.TEMPORAL_PORT, 7233),
      uiPort: port(env.TEMPORAL_UI_PORT, 8233),
    },
  };
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
