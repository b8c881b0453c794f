import { publicApiUrlFromEnv } from '../../config.js';
import type { Runtime } from '../../contracts/index.js';
import type { AgentLimits } from '../../limits.js';
import type { RuntimeProvider } from '../provider.js';
import { AgentCoreProvider, agentCoreConfigFromEnv } from './agentcore.js';
import { CloudflareProvider, cloudflareConfigFromEnv } from './cloudflare.js';
import { LocalProvider } from './local.js';
import { traced } from './traced.js';

/**
 * The runtime providers a process uses: the local runtime always (its control API at
 * `runtimeUrl`), and each cloud runtime whose account is configured (README, "Runtimes").
 * `close` releases what they hold.
 *
 * With `telemetryKey` (the processes that deploy), every version gets its telemetry key: on the
 * local runtime its shim reaches the api through a service binding; on the cloud runtimes it
 * posts to `WEBHOST_PUBLIC_API_URL`'s `/v1/telemetry`, and without that address records nothing.
 */
export function providersFromEnv(opts: {
  env: NodeJS.ProcessEnv;
  runtimeUrl: string;
  runtimeToken: string;
  invokeToken: (deploymentId: string) => string;
  telemetryKey?: (deploymentId: string) => Buffer;
  limits: Pick<AgentLimits, 'invokeTimeoutMs' | 'streamMaxMs' | 'startupMs'>;
}): { providers: Partial<Record<Runtime, RuntimeProvider>>; close(): Promise<void> } {
  const { env, invokeToken, telemetryKey, limits } = opts;
  const publicApiUrl = publicApiUrlFromEnv(env);
  const telemetry =
    telemetryKey && publicApiUrl
      ? { telemetry: { key: telemetryKey, url: `${publicApiUrl.replace(/\/+$/, '')}/v1/telemetry` } }
      : {};
  // a backstop behind the gateway's own invoke and stream limits, never before them
  const invokeIdleTimeoutMs = Math.max(limits.invokeTimeoutMs, limits.streamMaxMs) + 5_000;
  const providers: Partial<Record<Runtime, RuntimeProvider>> = {
    local: new LocalProvider({
      controlUrl: opts.runtimeUrl,
      token: opts.runtimeToken,
      invokeToken,
      ...(telemetryKey ? { telemetryKey } : {}),
      controlTimeoutMs: limits.startupMs + 30_000,
      invokeIdleTimeoutMs,
    }),
  };
  const closers: (() => Promise<void>)[] = [];
  const cloudflare = cloudflareConfigFromEnv(env);
  if (cloudflare) {
    const provider = new CloudflareProvider({ ...cloudflare, invokeToken, invokeIdleTimeoutMs, ...telemetry });
    providers.cloudflare = provider;
    closers.push(() => provider.close());
  }
  const agentcore = agentCoreConfigFromEnv(env);
  if (agentcore) providers.agentcore = new AgentCoreProvider({ ...agentcore, invokeToken, ...telemetry });
  for (const runtime of Object.keys(providers) as Runtime[]) providers[runtime] = traced(providers[runtime]!);
  return {
    providers,
    close: async () => {
      await Promise.all(closers.map((c) => c()));
    },
  };
}
