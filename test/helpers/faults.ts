import type { SplitPlatform } from './platform.js';

/** A JSON call to the api with a user token; answers the parsed body (errors included: callers check). */
export function apiClient(apiUrl: string, token: string) {
  return async <T>(method: string, path: string, body?: unknown): Promise<T> => {
    const res = await fetch(`${apiUrl}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: body === undefined ? null : JSON.stringify(body),
      signal: AbortSignal.timeout(30_000),
    });
    const parsed = (await res.json()) as T;
    if (!res.ok) throw new Error(`${method} ${path} answered ${res.status}: ${JSON.stringify(parsed)}`);
    return parsed;
  };
}

/** Polls `check` until it holds, every `intervalMs`, failing with `what` after `timeoutMs`. */
export async function waitFor(
  what: string,
  check: () => Promise<boolean>,
  timeoutMs: number,
  intervalMs = 250,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

export interface HeldVersions {
  /** The version the runtime serves for the agent. */
  active: string | null;
  items: { versionRef: string; deploymentId: string; running: boolean }[];
}

/** The versions the local runtime holds for an agent, asked through its control API. */
export async function heldVersions(platform: Pick<SplitPlatform, 'runtimeUrl' | 'runtimeToken'>, agentId: string) {
  const res = await fetch(`${platform.runtimeUrl}/agents/${agentId}/versions`, {
    headers: { authorization: `Bearer ${platform.runtimeToken}` },
    signal: AbortSignal.timeout(10_000),
  });
  if (res.status !== 200) throw new Error(`the local runtime answered ${res.status} for ${agentId}'s versions`);
  return (await res.json()) as HeldVersions;
}

/** A millisecond duration, for the figures the suites print. */
export const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
