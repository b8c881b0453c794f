import { Agent, errors as undiciErrors, request } from 'undici';
import { SESSION_HEADER } from '../../contracts/index.js';
import { isFailureType } from '../../../workflows/failures.js';
import {
  AgentStoppedError,
  ProviderError,
  type AgentResponse,
  type DeployVersionInput,
  type DeployVersionResult,
  type HealthCheckResult,
  type InvokeRequest,
  type RuntimeProvider,
} from '../provider.js';
import { INVOKE_TOKEN_BINDING, INVOKE_TOKEN_HEADER, telemetryBindings } from '../shim/index.js';

/** Workers answer a thrown error with a developer page that may quote files of this machine; never ask for it. */
const NO_PRETTY_ERRORS = { 'MF-Disable-Pretty-Error': '1' } as const;

/** How often, and how far apart, the runtime is asked why a version failed under a request. */
const WHY_ATTEMPTS = 5;
const WHY_PAUSE_MS = 200;

export interface LocalProviderOptions {
  controlUrl: string;
  /** The local runtime's control token. */
  token: string;
  /** The invoke token of a deployment (lib/auth/platform-keys.ts). */
  invokeToken: (deploymentId: string) => string;
  /**
   * The telemetry key of a deployment (lib/auth/platform-keys.ts). Given, each version gets it
   * and the local runtime gives its shim a service binding to the api; absent, no telemetry.
   */
  telemetryKey?: (deploymentId: string) => Buffer;
  /** How long a control call may take; starting a version is bounded by the runtime's startup limit. */
  controlTimeoutMs?: number;
  /** Backstop on an invocation's connection: no answer, or no bytes, for this long ends it. */
  invokeIdleTimeoutMs?: number;
}

/**
 * The `local` runtime provider: a client of the local runtime's control API. It resolves a
 * version to its workerd URL once and then sends invocations straight there, with the
 * deployment's invoke token, so the invoke path has no extra hop.
 */
export class LocalProvider implements RuntimeProvider {
  readonly runtime = 'local' as const;
  private readonly endpoints = new Map<string, Promise<string>>();
  /** Keep-alive connections to the versions' workerd processes, shared by all invocations. */
  private readonly pool: Agent;

  constructor(private readonly opts: LocalProviderOptions) {
    const idle = opts.invokeIdleTimeoutMs ?? 15 * 60_000;
    this.pool = new Agent({
      connections: 256,
      // Idle connections close after 4 s (undici's default), including the ones undici opens
      // again after an aborted request to find it aborted.
      keepAliveTimeout: 4_000,
      pipelining: 1,
      headersTimeout: idle,
      bodyTimeout: idle,
    });
  }

  async deployVersion(input: DeployVersionInput): Promise<DeployVersionResult> {
    const r = await this.control<{ versionRef: string }>(
      'PUT',
      `/agents/${input.agentId}/versions/${input.deploymentId}`,
      {
        bundle: input.bundle,
        vars: input.vars ?? {},
        platformBindings: {
          [INVOKE_TOKEN_BINDING]: this.opts.invokeToken(input.deploymentId),
          ...(this.opts.telemetryKey
            ? telemetryBindings({
                deploymentId: input.deploymentId,
                agentId: input.agentId,
                key: this.opts.telemetryKey(input.deploymentId),
              })
            : {}),
        },
      },
    );
    return { versionRef: r.versionRef };
  }

  async activateVersion(input: { agentId: string; versionRef: string }): Promise<void> {
    await this.control('PUT', `/agents/${input.agentId}/active`, { versionRef: input.versionRef });
  }

  async removeVersion(input: { agentId: string; versionRef: string }): Promise<void> {
    this.endpoints.delete(input.versionRef);
    await this.control('DELETE', `/agents/${input.agentId}/versions/${encodeURIComponent(input.versionRef)}`);
  }

  /** The runtime pings the version itself, with the token the version was deployed with. */
  async healthCheck(input: { versionRef: string }): Promise<HealthCheckResult> {
    return this.control<HealthCheckResult>('GET', `/versions/${encodeURIComponent(input.versionRef)}/health`);
  }

  async invoke(input: InvokeRequest): Promise<AgentResponse> {
    const send = async (): Promise<AgentResponse> => {
      const res = await request(new URL('/invocations', await this.endpoint(input.versionRef)), {
        method: 'POST',
        body: input.body,
        headers: {
          ...input.traceHeaders,
          'content-type': 'application/json',
          accept: input.accept,
          [SESSION_HEADER]: input.sessionId,
          'x-request-id': input.requestId,
          [INVOKE_TOKEN_HEADER]: this.opts.invokeToken(input.deploymentId),
          ...NO_PRETTY_ERRORS,
        },
        dispatcher: this.pool,
        ...(input.signal ? { signal: input.signal } : {}),
      });
      const contentType = res.headers['content-type'];
      return {
        status: res.statusCode,
        contentType: (Array.isArray(contentType) ? contentType[0] : contentType) ?? '',
        text: () => res.body.text(),
        body: res.body,
      };
    };
    try {
      return await send();
    } catch (err) {
      if (input.signal?.aborted) throw err;
      // Only a request that never reached the agent is sent again: the version may have been
      // restarted on another port (drain, a limit, a host restart). One that reached it may
      // have done its work, so it is not repeated.
      if (!neverReached(err)) throw await this.whyItFailed(input.versionRef, err);
      this.endpoints.delete(input.versionRef);
      try {
        return await send();
      } catch (again) {
        throw await this.whyItFailed(input.versionRef, again);
      }
    }
  }

  async setSecret(input: { agentId: string; name: string; value: string }): Promise<void> {
    await this.control('PUT', `/agents/${input.agentId}/secrets/${input.name}`, { value: input.value });
  }

  async deleteSecret(input: { agentId: string; name: string }): Promise<void> {
    await this.control('DELETE', `/agents/${input.agentId}/secrets/${input.name}`);
  }

  async destroyAgent(input: { agentId: string }): Promise<void> {
    for (const ref of this.endpoints.keys()) if (ref.startsWith(`${input.agentId}.`)) this.endpoints.delete(ref);
    await this.control('DELETE', `/agents/${input.agentId}`);
  }

  async close(): Promise<void> {
    await this.pool.close();
  }

  /** The runtime says why a version stopped under a request, when a limit stopped it. */
  private async whyItFailed(versionRef: string, err: unknown): Promise<ProviderError> {
    this.endpoints.delete(versionRef);
    // The connection can drop a moment before the runtime notices its process died (an
    // out-of-memory abort): ask a few times, briefly, before calling it a plain failure.
    for (let attempt = 0; attempt < WHY_ATTEMPTS; attempt++) {
      if (attempt > 0) await new Promise((r) => setTimeout(r, WHY_PAUSE_MS));
      const status = await this.control<{ running: boolean; stopped: { reason: string } | null }>(
        'GET',
        `/versions/${encodeURIComponent(versionRef)}/status`,
      ).catch(() => null);
      if (status?.stopped) return new AgentStoppedError(status.stopped.reason);
      if (status === null) break;
    }
    return new ProviderError(
      'retryable',
      `local runtime did not answer: ${err instanceof Error ? err.message : String(err)}`,
    );
  }

  private endpoint(versionRef: string): Promise<string> {
    let url = this.endpoints.get(versionRef);
    if (!url) {
      url = this.control<{ url: string }>('GET', `/versions/${encodeURIComponent(versionRef)}/endpoint`).then((r) =>
        onControlHost(r.url, this.opts.controlUrl),
      );
      this.endpoints.set(versionRef, url);
      url.catch(() => this.endpoints.delete(versionRef));
    }
    return url;
  }

  private async control<T = unknown>(method: string, path: string, body?: unknown): Promise<T> {
    let res: Response;
    try {
      res = await fetch(new URL(path, this.opts.controlUrl), {
        method,
        headers: {
          authorization: `Bearer ${this.opts.token}`,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        body: body === undefined ? null : JSON.stringify(body),
        signal: AbortSignal.timeout(this.opts.controlTimeoutMs ?? 60_000),
      });
    } catch (err) {
      throw new ProviderError(
        'retryable',
        `local runtime unreachable at ${this.opts.controlUrl}: ${err instanceof Error ? err.message : String(err)}`,
      );
    }
    if (res.status === 204) return undefined as T;
    const payload = (await res.json().catch(() => ({}))) as {
      error?: { kind?: string; type?: string; message?: string };
    } & T;
    if (res.ok) return payload;
    const message = payload.error?.message ?? `local runtime answered ${res.status}`;
    const permanent = res.status >= 400 && res.status < 500 && res.status !== 408 && res.status !== 429;
    const type = payload.error?.type;
    throw new ProviderError(permanent ? 'permanent' : 'retryable', message, isFailureType(type) ? type : undefined);
  }
}

/**
 * A version's workerd port as reached from here: the runtime names it on its own loopback, and
 * its agents listen where its control API does, so the port is reached on the control URL's host
 * (the same URL when the runtime is on this machine; `runtime-local` in docker-compose.yml).
 */
export function onControlHost(endpoint: string, controlUrl: string): string {
  const url = new URL(endpoint);
  url.hostname = new URL(controlUrl).hostname;
  return url.toString();
}

/** A connection refused: the request cannot have reached the agent. */
function neverReached(err: unknown): boolean {
  const code = (err as { code?: string } | null)?.code;
  return code === 'ECONNREFUSED' || err instanceof undiciErrors.ConnectTimeoutError;
}
