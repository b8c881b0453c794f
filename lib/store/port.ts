import type { Agent, CreateAgentBody, Deployment, DeploymentStatus, DeployStep, FilesSource, Page, PageQuery, StepLogEntry } from '../contracts/index.js';

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

  close(): Promise<void>;
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
