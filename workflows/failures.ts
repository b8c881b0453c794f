// The one list of failure types (architecture.md, Workflows and failures). Activities and providers throw these as
// `ApplicationFailure` types; workflows list the permanent ones in `nonRetryableErrorTypes`.
// Use the constants, never string literals: a misspelt type would turn a permanent failure
// into retries. Deterministic constants only, so workflow code may import this file.

/** Failures that retrying cannot fix: the step fails at once and the workflow compensates. */
export const PermanentFailure = {
  /** The source does not build (syntax, a missing import, no default export). */
  BuildFailed: 'BuildFailed',
  /** No provider for the runtime on this platform. */
  RuntimeUnavailable: 'RuntimeUnavailable',
  /** The agent's code threw, or could not be loaded, when its version started. */
  AgentStartFailed: 'AgentStartFailed',
  /** The agent's version did not start within the startup limit (a module top level that never ends). */
  AgentStartTimedOut: 'AgentStartTimedOut',
  /** The store refused a deployment change (it is final, or another deploy is in flight). */
  DeploymentConflict: 'DeploymentConflict',
  /** The agent or deployment is gone (deleted, or never the caller's). */
  NotFound: 'NotFound',
  /** The store refused the arguments. */
  InvalidInput: 'InvalidInput',
  /** The store refused for another reason it gave. */
  StoreRefused: 'StoreRefused',
  /** The provider has no such version (removed, or another agent's). */
  VersionNotFound: 'VersionNotFound',
  /** The provider refused the call for good. */
  ProviderPermanentError: 'ProviderPermanentError',
  /** The agent's serving pointer moved while the deploy ran. */
  ActivePointerConflict: 'ActivePointerConflict',
  /** A rollback's target is not a deployment of this agent that reached `live`. */
  RollbackTargetInvalid: 'RollbackTargetInvalid',
  /** A billing period was asked to close before it ended. */
  PeriodNotEnded: 'PeriodNotEnded',
  /** Lemon Squeezy refused the API key (401/403): no usage report can go through until it is fixed. */
  BillingNotAuthorized: 'BillingNotAuthorized',
  /** A webhook receiver answered with a status retrying will not change (4xx other than 408 and 429, or a redirect). */
  WebhookRejected: 'WebhookRejected',
  /** Webhooks are not configured on this worker (no signing key, no URL policy). */
  WebhooksNotConfigured: 'WebhooksNotConfigured',
} as const;
export type PermanentFailureType = (typeof PermanentFailure)[keyof typeof PermanentFailure];

/** Every permanent type, for `nonRetryableErrorTypes`. */
export const PERMANENT_FAILURES: PermanentFailureType[] = Object.values(PermanentFailure);

/** Failures worth retrying, named so that a failed deployment says what kept failing. */
export const RetryableFailure = {
  /** The new version did not answer `GET /ping` with 200. */
  HealthCheckFailed: 'HealthCheckFailed',
  /** The provider could not be reached or answered with a temporary error. */
  ProviderRetryableError: 'ProviderRetryableError',
  /** A webhook receiver did not answer, or answered 408, 429 or 5xx. */
  WebhookAttemptFailed: 'WebhookAttemptFailed',
} as const;
export type RetryableFailureType = (typeof RetryableFailure)[keyof typeof RetryableFailure];

export type FailureType = PermanentFailureType | RetryableFailureType;

/** Error codes of a deployment that ended without a failure type from an activity. */
export const DeploymentErrorCode = {
  /** Canceled through Temporal. */
  Canceled: 'canceled',
  /** The workflow failed for a reason no activity named. */
  Internal: 'InternalError',
  /** The api recorded the deployment but could not start its workflow. */
  WorkflowStartFailed: 'WorkflowStartFailed',
  /** Its workflow ended without saying how the deployment ended (terminated, timed out, lost); reconciled by the api. */
  WorkflowEnded: 'WorkflowEnded',
} as const;

const KNOWN = new Set<string>([...PERMANENT_FAILURES, ...Object.values(RetryableFailure)]);
export const isFailureType = (type: unknown): type is FailureType => typeof type === 'string' && KNOWN.has(type);
