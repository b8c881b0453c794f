import type {
  Agent,
  ApiKey,
  AuditEntry,
  BillingPeriod,
  BillingState,
  CreateAgentBody,
  Deployment,
  DeploymentStatus,
  DeployStep,
  FilesSource,
  HourlyMetric,
  Page,
  PageQuery,
  Period,
  PeriodUsage,
  SecretMetadata,
  StepLogEntry,
  StoredTelemetryEvent,
  TelemetryEvent,
  Tier,
  User,
} from '../contracts/index.js';

/**
 * The state store port: domain-shaped operations, each scoped by owner where a user is
 * behind it, each transactional where its invariant needs it (DESIGN.md §4). Adapters
 * throw `AppError` (`not_found`, `conflict`, `validation_failed`) and never write partially.
 */
export interface Store {
  /** Creates the user row on first sight; later calls change nothing. */
  ensureUser(userId: string, now: Date): Promise<void>;

  createAgent(input: { id: string; ownerId: string; now: Date } & CreateAgentBody): Promise<Agent>;
  getAgent(ownerId: string, agentId: string): Promise<Agent>;
  listAgents(ownerId: string, page: PageQuery): Promise<Page<Agent>>;
  renameAgent(input: { ownerId: string; agentId: string; name: string; now: Date }): Promise<Agent>;
  /** Soft delete: history stays; refused while a deployment is in flight. */
  deleteAgent(input: { ownerId: string; agentId: string; now: Date }): Promise<Agent>;

  /**
   * Creates a `queued` deployment with the next version number. At most one deployment
   * of an agent is in flight: a second one is refused with `conflict`.
   */
  createDeployment(input: {
    id: string;
    ownerId: string;
    agentId: string;
    workflowId: string;
    source: FilesSource;
    now: Date;
  }): Promise<Deployment>;
  getDeployment(ownerId: string, deploymentId: string): Promise<Deployment>;
  getDeploymentSource(ownerId: string, deploymentId: string): Promise<FilesSource>;
  listDeployments(ownerId: string, agentId: string, page: PageQuery): Promise<Page<Deployment>>;
  /**
   * Moves a deployment along its lifecycle. Final states (`live`, `failed`, `canceled`)
   * never change again: a transition out of one is refused with `conflict`.
   */
  transitionDeployment(input: TransitionInput): Promise<Deployment>;
  /** Appends to the step log of a deployment that is not final yet, with the provider's version once known. */
  recordDeploymentStep(input: { ownerId: string; deploymentId: string; entry: StepLogEntry; providerRef?: string }): Promise<void>;

  /** Compare-and-set of the serving pointer; true when this call made the switch. */
  switchActiveDeployment(input: {
    ownerId: string;
    agentId: string;
    expected: string | null;
    next: string | null;
    now: Date;
  }): Promise<boolean>;

  /** Hot path of the gateway: the agent and the deployment that serves it, in one read. */
  getServingTarget(ownerId: string, agentId: string): Promise<ServingTarget>;
  /**
   * Calls `onChange(agentId)` after a change to what serves an agent commits (a pointer
   * switch, a delete), from any process on the same database; `onChange('*')` when changes
   * may have been missed. Resolves to a function that stops watching.
   */
  watchServing(onChange: (agentId: string) => void): Promise<() => Promise<void>>;

  /** Idempotency-Key records (DESIGN.md §5): the first request under a key owns it. */
  beginIdempotent(input: { ownerId: string; key: string; requestHash: string; now: Date }): Promise<IdempotencyBegin>;
  completeIdempotent(input: { ownerId: string; key: string; status: number; body: unknown }): Promise<void>;
  /** Frees a key whose first request failed in a way the client should retry. */
  abandonIdempotent(input: { ownerId: string; key: string }): Promise<void>;

  // ── users, tiers, billing ids ──────────────────────────────────────────────────────
  getUser(userId: string): Promise<User>;
  setUserTier(input: { userId: string; tier: Tier; now: Date }): Promise<User>;
  /** Merges the given billing ids into the user's (Lemon Squeezy customer, subscription…). */
  setUserBilling(input: { userId: string; billing: Partial<BillingState>; now: Date }): Promise<User>;

  // ── secret metadata (never values) ─────────────────────────────────────────────────
  /** Records that a secret was set: creates it at version 1 or bumps its version. */
  putSecretMetadata(input: { ownerId: string; agentId: string; name: string; now: Date }): Promise<SecretMetadata>;
  listSecretMetadata(ownerId: string, agentId: string): Promise<SecretMetadata[]>;
  deleteSecretMetadata(input: { ownerId: string; agentId: string; name: string }): Promise<void>;

  // ── API keys (hash and prefix only) ────────────────────────────────────────────────
  createApiKey(input: { id: string; ownerId: string; name: string; prefix: string; hash: string; now: Date }): Promise<ApiKey>;
  listApiKeys(ownerId: string): Promise<ApiKey[]>;
  revokeApiKey(input: { ownerId: string; id: string; now: Date }): Promise<ApiKey>;
  /** The owner of an unrevoked key with this hash, or null. */
  findApiKeyByHash(hash: string): Promise<{ id: string; ownerId: string } | null>;

  // ── telemetry and usage ────────────────────────────────────────────────────────────
  /**
   * Stores a batch of a deployment's events and adds each new one, once, to the agent's
   * hourly metrics and the owner's usage for the event's period and runtime — in one
   * transaction. Event ids already stored are counted as duplicates and change nothing.
   */
  ingestTelemetry(input: { ownerId: string; agentId: string; deploymentId: string; events: TelemetryEvent[] }): Promise<{ accepted: number; duplicates: number }>;
  /** Newest first. */
  listTelemetryEvents(input: { ownerId: string; agentId: string } & PageQuery): Promise<Page<StoredTelemetryEvent>>;
  /** Hourly metrics of an agent for hours starting in [from, to). */
  listHourlyMetrics(input: { ownerId: string; agentId: string; from: Date; to: Date }): Promise<HourlyMetric[]>;
  /** One row per runtime used in the period. */
  getUsage(input: { ownerId: string; period: Period }): Promise<PeriodUsage[]>;
  /**
   * Retention: deletes at most `limit` raw events, of owners on `tier`, that happened before
   * `cutoff`. Aggregates are kept. Call again until it deletes fewer than `limit`.
   */
  deleteTelemetryBefore(input: { tier: Tier; cutoff: Date; limit: number }): Promise<{ deleted: number }>;

  // ── billing periods and webhooks ───────────────────────────────────────────────────
  getBillingPeriod(input: { ownerId: string; period: Period }): Promise<BillingPeriod>;
  /** Freezes the period's totals from its usage; closing a closed period changes nothing. */
  closeBillingPeriod(input: { ownerId: string; period: Period; now: Date }): Promise<{ period: BillingPeriod; closedNow: boolean }>;
  /** Records the usage report of a closed period once; true only for the call that recorded it. */
  recordUsageReport(input: { ownerId: string; period: Period; reportId: string; now: Date }): Promise<boolean>;
  /** True the first time an event id is seen, false for every redelivery. */
  recordWebhookEvent(input: { provider: string; eventId: string; eventName: string; now: Date }): Promise<boolean>;

  // ── audit log ──────────────────────────────────────────────────────────────────────
  appendAudit(input: Omit<AuditEntry, 'id' | 'at' | 'details'> & { details?: Record<string, unknown>; now: Date }): Promise<void>;
  /** Newest first. */
  listAudit(ownerId: string, page: PageQuery): Promise<Page<AuditEntry>>;

  // ── live updates ───────────────────────────────────────────────────────────────────
  /**
   * Every committed change to an owner's agents and deployments, from any process. When
   * changes may have been missed (a dropped connection, a gap in a feed) the watcher gets
   * a reset, `{ ownerId: '*', id: '*' }`, after which it should re-read what it shows.
   */
  watchChanges(onChange: (change: StoreChange) => void): Promise<() => Promise<void>>;

  close(): Promise<void>;
}

export interface StoreChange {
  ownerId: string;
  kind: 'agent' | 'deployment';
  id: string;
}

export interface TransitionInput {
  ownerId: string;
  deploymentId: string;
  to: DeploymentStatus;
  now: Date;
  step?: DeployStep;
  artifactDigest?: string;
  providerRef?: string;
  error?: { code: string; message: string };
}

export interface ServingTarget {
  agent: Agent;
  deployment: { id: string; runtime: Deployment['runtime']; providerRef: string } | null;
}

export type IdempotencyBegin =
  | { state: 'new' }
  | { state: 'in_progress' }
  | { state: 'mismatch' }
  | { state: 'done'; status: number; body: unknown };
