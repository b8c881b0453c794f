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
