import type { Runtime } from '../../contracts/index.js';
import type { AgentLimits } from '../../limits.js';
import type { RuntimeProvider } from '../provider.js';
import { AgentCoreProvider, agentCoreConfigFromEnv } from './agentcore.js';
import { CloudflareProvider, cloudflareConfigFromEnv } from './cloudflare.js';
import { LocalProvider } from './local.js';

/**
 * The runtime providers a process uses: the local runtime always (its control API at
 * `runtimeUrl`), and each cloud runtime whose account is configured (README, "Runtimes").
 * `close` releases what they hold.
 */
export function providersFromEnv(opts: {
  env: NodeJS.ProcessEnv;
  runtimeUrl: string;
  runtimeToken: string;
  invokeToken: (deploymentId: string) => string;
  limits: Pick<AgentLimits, 'invokeTimeoutMs' | 'streamMaxMs' | 'startupMs'>;
}): { providers: Partial<Record<Runtime, RuntimeProvider>>; close(): Promise<void> } {
  const { env, invokeToken, limits } = opts;
  // a backstop behind the gateway's own invoke and stream limits, never before them
  const invokeIdleTimeoutMs = Math.max(limits.invokeTimeoutMs, limits.streamMaxMs) + 5_000;
  const providers: Partial<Record<Runtime, RuntimeProvider>> = {
    local: new LocalProvider({
      controlUrl: opts.runtimeUrl,
      token: opts.runtimeToken,
      invokeToken,
      controlTimeoutMs: limits.startupMs + 30_000,
      invokeIdleTimeoutMs,
    }),
  };
  const closers: (() => Promise<void>)[] = [];
  const cloudflare = cloudflareConfigFromEnv(env);
  if (cloudflare) {
    const provider = new CloudflareProvider({ ...cloudflare, invokeToken, invokeIdleTimeoutMs });
    providers.cloudflare = provider;
    closers.push(() => provider.close());
  }
  const agentcore = agentCoreConfigFromEnv(env);
  if (agentcore) providers.agentcore = new AgentCoreProvider({ ...agentcore, invokeToken });
  return {
    providers,
    close: async () => {
      await Promise.all(closers.map((c) => c()));
    },
  };
}
