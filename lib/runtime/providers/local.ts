import { Agent, request } from 'undici';
import {
  ProviderError,
  type AgentResponse,
  type DeployVersionInput,
  type DeployVersionResult,
  type HealthCheckResult,
  type InvokeRequest,
  type RuntimeProvider,
} from '../provider.js';
import { SESSION_HEADER } from '../../contracts/index.js';
import { isFailureType } from '../../../workflows/failures.js';

/** Health checks give a version this long to answer `GET /ping`. */
const PING_TIMEOUT_MS = 5_000;

/**
 * The `local` runtime provider: a client of the local runtime's control API. It resolves
 * a version to its workerd URL once and then sends invocations straight there, so the
 * invoke path has no extra hop.
 */
export class LocalProvider implements RuntimeProvider {
  readonly runtime = 'local' as const;
  private readonly endpoints = new Map<string, Promise<string>>();
  /** Keep-alive connections to the versions' workerd processes, shared by all invocations. */
  private readonly pool = new Agent({ connections: 256, keepAliveTimeout: 30_000, pipelining: 1 });

  constructor(private readonly opts: { controlUrl: string; token: string }) {}

  async deployVersion(input: DeployVersionInput): Promise<DeployVersionResult> {
    const r = await this.control<{ versionRef: string }>(
      'PUT',
      `/agents/${input.agentId}/versions/${input.deploymentId}`,
      {
        bundle: input.bundle,
        vars: input.vars ?? {},
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

  async healthCheck(input: { versionRef: string }): Promise<HealthCheckResult> {
    const url = await this.endpoint(input.versionRef);
    try {
      const res = await fetch(new URL('/ping', url), { signal: AbortSignal.timeout(PING_TIMEOUT_MS) });
      const text = (await res.text()).slice(0, 200);
      return { ok: res.ok, status: res.status, detail: res.ok ? 'ok' : `GET /ping answered ${res.status}: ${text}` };
    } catch (err) {
      return {
        ok: false,
        status: null,
        detail: `GET /ping failed: ${err instanceof Error ? err.message : String(err)}`,
      };
    }
  }

  async invoke(input: InvokeRequest): Promise<AgentResponse> {
    const send = async (): Promise<AgentResponse> => {
      const res = await request(new URL('/invocations', await this.endpoint(input.versionRef)), {
        method: 'POST',
        body: input.body,
        headers: {
          'content-type': 'application/json',
          accept: input.accept,
          [SESSION_HEADER]: input.sessionId,
          'x-request-id': input.requestId,
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
      // The version may have been restarted on another port (drain, host restart): resolve again once.
      this.endpoints.delete(input.versionRef);
      try {
        return await send();
      } catch (again) {
        throw new ProviderError(
          'retryable',
          `local runtime did not answer: ${again instanceof Error ? again.message : String(again)}`,
        );
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
    await this.control('DELETE', `/agents/${input.agentId}`);
  }

  private endpoint(versionRef: string): Promise<string> {
    let url = this.endpoints.get(versionRef);
    if (!url) {
      url = this.control<{ url: string }>('GET', `/versions/${encodeURIComponent(versionRef)}/endpoint`).then(
        (r) => r.url,
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
