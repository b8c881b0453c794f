import type { Runtime } from '../contracts/index.js';
import { PermanentFailure, RetryableFailure, type FailureType } from '../../workflows/failures.js';

/** A bundled Workers-style ES module program: the entry module and the others it imports. */
export interface WorkerBundle {
  mainModule: string;
  modules: Record<string, string>;
  /** Exported classes to bind as Durable Objects, each under its own name (`env.Counter`). */
  durableObjectClasses: string[];
}

/**
 * The Runtime Provider Interface (architecture.md, Runtimes). One interface, one adapter per runtime,
 * one conformance suite. Every mutating call is idempotent on its inputs so an activity
 * that retries it does no harm; failures are `ProviderError`s that say whether to retry.
 */
export interface RuntimeProvider {
  readonly runtime: Runtime;
  /** Uploads a new immutable version; it does not serve until activated. */
  deployVersion(input: DeployVersionInput): Promise<DeployVersionResult>;
  /** Makes `versionRef` the one the runtime serves for the agent. */
  activateVersion(input: { agentId: string; versionRef: string }): Promise<void>;
  /** Deletes a version; deleting one that is gone succeeds. */
  removeVersion(input: { agentId: string; versionRef: string }): Promise<void>;
  /** `GET /ping` against the version itself (not the agent's active one). */
  healthCheck(input: { versionRef: string }): Promise<HealthCheckResult>;
  /** Sends one request to the version and hands back its response unread, so it can stream. */
  invoke(input: InvokeRequest): Promise<AgentResponse>;
  setSecret(input: { agentId: string; name: string; value: string }): Promise<void>;
  deleteSecret(input: { agentId: string; name: string }): Promise<void>;
  /** Tears down every version, secret and stored state of the agent. */
  destroyAgent(input: { agentId: string }): Promise<void>;
}

export interface DeployVersionInput {
  agentId: string;
  deploymentId: string;
  bundle: WorkerBundle;
  /** Plain (non-secret) bindings; secrets are set with `setSecret` and never pass through here. */
  vars?: Record<string, string>;
}

export interface DeployVersionResult {
  versionRef: string;
}

export interface HealthCheckResult {
  ok: boolean;
  status: number | null;
  detail: string;
}

export interface InvokeRequest {
  versionRef: string;
  /** The deployment the version belongs to: its invoke token goes with the request. */
  deploymentId: string;
  body: string;
  sessionId: string;
  accept: string;
  requestId: string;
  /** Aborts the request and releases its connection (a caller gone, a limit reached). */
  signal?: AbortSignal;
  /** W3C trace context (`traceparent`, `tracestate`) for the agent, when the call is traced. */
  traceHeaders?: Record<string, string>;
}

/** An agent's answer, unread: read it whole with `text()` or chunk by chunk with `body`, once. */
export interface AgentResponse {
  status: number;
  contentType: string;
  text(): Promise<string>;
  body: AsyncIterable<Uint8Array>;
}

export type ProviderErrorKind = 'retryable' | 'permanent';

export class ProviderError extends Error {
  override readonly name = 'ProviderError';
  constructor(
    readonly kind: ProviderErrorKind,
    message: string,
    /** The failure type activities report it as (workflows/failures.ts). */
    readonly type: FailureType = kind === 'permanent'
      ? PermanentFailure.ProviderPermanentError
      : RetryableFailure.ProviderRetryableError,
  ) {
    super(message);
  }
}

/**
 * The agent's version was stopped under a request: a limit it passed (memory, CPU) or a
 * crash. Its message is meant for the agent's owner.
 */
export class AgentStoppedError extends ProviderError {
  constructor(reason: string) {
    super('retryable', `the agent was stopped: ${reason}`);
  }
}
