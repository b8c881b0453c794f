import {
  Client,
  WorkflowExecutionAlreadyStartedError,
  WorkflowFailedError,
  WorkflowNotFoundError,
  type Connection,
  type WorkflowStartOptions,
} from '@temporalio/client';
import type { DataConverter } from '@temporalio/common';
import { OpenTelemetryWorkflowClientInterceptor } from '@temporalio/interceptors-opentelemetry';
import { AgentIdKey, DeploymentIdKey, OwnerIdKey, WorkflowKindKey } from '../lib/temporal/search-attributes.js';
import { DELETE_AGENT_WORKFLOW_KIND, deleteAgentWorkflowId } from '../workflows/delete-agent/config.js';
import type { DeleteAgentInput } from '../workflows/delete-agent/messages.js';
import { DEPLOY_TASK_QUEUE, DEPLOY_WORKFLOW_KIND, deployWorkflowId } from '../workflows/deploy/config.js';
import { progressQuery, type DeployInput, type DeployProgress } from '../workflows/deploy/messages.js';
import { ROLLBACK_WORKFLOW_KIND, rollbackWorkflowId } from '../workflows/rollback/config.js';
import type { RollbackInput } from '../workflows/rollback/messages.js';
import { SECRET_WORKFLOW_KIND, secretWorkflowId } from '../workflows/secrets/config.js';
import { BILLING_WEBHOOK_WORKFLOW_KIND, billingWebhookWorkflowId } from '../workflows/billing-webhook/config.js';
import type { BillingWebhookInput } from '../workflows/billing-webhook/messages.js';
import type { SecretChangeInput, SecretChangeResult } from '../workflows/secrets/messages.js';
import { ApplicationFailure, TemporalFailure } from '@temporalio/common';
import { AppError } from '../lib/contracts/index.js';

/**
 * A Temporal client with the platform's payload codec, whose starts, signals and queries carry
 * the caller's trace context (a span per call, the workflow's spans its children), so a deploy
 * reads as one trace from the api's request to the provider's calls (README, "Traces").
 */
export function temporalClient(connection: Connection, namespace: string, dataConverter: DataConverter): Client {
  return new Client({
    connection,
    namespace,
    dataConverter,
    interceptors: { workflow: [new OpenTelemetryWorkflowClientInterceptor()] },
  });
}

/** What Temporal says of a workflow the store thinks is running. */
export type WorkflowOutcome =
  | { state: 'running' }
  /** It ended: `how` is Temporal's word for it (completed, failed, canceled, terminated, timed_out…). */
  | { state: 'ended'; how: string }
  /** Temporal has no such workflow (never started, or its history was lost). */
  | { state: 'missing' }
  /** Temporal did not say (unreachable, slow). */
  | { state: 'unknown' };

/**
 * The api's port to Temporal: start work, and ask how it is going. Route tests that need no
 * workflow run against a fake of it (test/helpers/workflows.ts).
 */
export interface Workflows {
  /** Starts `deploy-<deploymentId>`; one already running under that id is success. */
  startDeploy(input: DeployInput): Promise<{ workflowId: string }>;
  /** The deploy's `progress` query, or null when the workflow cannot say (ended, unreachable, slow). */
  deployProgress(workflowId: string): Promise<DeployProgress | null>;
  /** Starts `rollback-<agentId>-<deploymentId>`; one already running under that id is success. */
  startRollback(input: RollbackInput): Promise<{ workflowId: string }>;
  /**
   * Starts `secret-<agentId>-<name>-<version>` and waits up to `waitMs` for it. The same change
   * already running is `conflict` (two requests raced for one version); a failed one may be
   * run again under its id.
   */
  changeSecret(input: SecretChangeInput, waitMs: number): Promise<SecretChangeOutcome>;
  /** Starts `delete-<agentId>`; one already running under that id is success. */
  startDeleteAgent(input: DeleteAgentInput): Promise<{ workflowId: string }>;
  /**
   * Starts `ls-<eventKey>` for a verified Lemon Squeezy delivery. That id already started —
   * running or ended — is success: a delivery is applied once.
   */
  startBillingWebhook(input: BillingWebhookInput): Promise<{ workflowId: string }>;
  /** Whether a workflow still runs, for deployments whose workflow may have ended without saying so. */
  workflowOutcome(workflowId: string): Promise<WorkflowOutcome>;
}

/** A secret change: applied within the wait, or still running under `workflowId`. */
export type SecretChangeOutcome =
  { state: 'done'; result: SecretChangeResult } | { state: 'pending'; workflowId: string; version: number };

/** The secret workflow failed: its failure type and message (which never hold the value). */
export class SecretChangeFailed extends Error {
  override readonly name = 'SecretChangeFailed';
  constructor(
    message: string,
    readonly type: string | undefined,
  ) {
    super(message);
  }
}

/** How long a query or describe may take before the api answers without it. */
const QUERY_TIMEOUT_MS = 2000;
/** How long a start may take before the api gives up and tells the client to retry. */
const START_TIMEOUT_MS = 10_000;

export function temporalWorkflows(
  client: Client,
  opts: { taskQueue?: string; startTimeoutMs?: number } = {},
): Workflows {
  const taskQueue = opts.taskQueue ?? DEPLOY_TASK_QUEUE;

  /** Starts a workflow under its business key; that id already running is success. */
  async function start(
    workflowType: string,
    workflowId: string,
    args: unknown[],
    attributes: WorkflowStartOptions['typedSearchAttributes'],
    reuse?: WorkflowStartOptions['workflowIdReusePolicy'],
  ) {
    try {
      const deadline = Date.now() + (opts.startTimeoutMs ?? START_TIMEOUT_MS);
      await client.withDeadline(deadline, () =>
        client.workflow.start(workflowType, {
          taskQueue,
          workflowId,
          args,
          workflowIdConflictPolicy: 'USE_EXISTING',
          ...(reuse ? { workflowIdReusePolicy: reuse } : {}),
          typedSearchAttributes: attributes,
        }),
      );
    } catch (err) {
      if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
    }
    return { workflowId };
  }

  const withinQueryTimeout = <T>(work: Promise<T>, fallback: T): Promise<T> =>
    Promise.race([work, new Promise<T>((resolve) => setTimeout(() => resolve(fallback), QUERY_TIMEOUT_MS).unref())]);

  return {
    startDeploy: (input) =>
      start(
        'deployWorkflow',
        deployWorkflowId(input.deploymentId),
        [input],
        [
          { key: AgentIdKey, value: input.agentId },
          { key: OwnerIdKey, value: input.ownerId },
          { key: DeploymentIdKey, value: input.deploymentId },
          { key: WorkflowKindKey, value: DEPLOY_WORKFLOW_KIND },
        ],
      ),

    startRollback: (input) =>
      start(
        'rollbackWorkflow',
        rollbackWorkflowId(input.agentId, input.deploymentId),
        [input],
        [
          { key: AgentIdKey, value: input.agentId },
          { key: OwnerIdKey, value: input.ownerId },
          { key: DeploymentIdKey, value: input.deploymentId },
          { key: WorkflowKindKey, value: ROLLBACK_WORKFLOW_KIND },
        ],
      ),

    async changeSecret(input, waitMs) {
      const workflowId = secretWorkflowId(input.agentId, input.name, input.version);
      let handle;
      try {
        const deadline = Date.now() + (opts.startTimeoutMs ?? START_TIMEOUT_MS);
        handle = await client.withDeadline(deadline, () =>
          client.workflow.start('secretWorkflow', {
            taskQueue,
            workflowId,
            args: [input],
            workflowIdConflictPolicy: 'FAIL',
            workflowIdReusePolicy: 'ALLOW_DUPLICATE_FAILED_ONLY',
            typedSearchAttributes: [
              { key: AgentIdKey, value: input.agentId },
              { key: OwnerIdKey, value: input.ownerId },
              { key: WorkflowKindKey, value: SECRET_WORKFLOW_KIND },
            ],
          }),
        );
      } catch (err) {
        if (err instanceof WorkflowExecutionAlreadyStartedError) {
          throw new AppError('conflict', `another change of secret ${input.name} is in progress; try again`);
        }
        throw err;
      }
      let timer: NodeJS.Timeout | undefined;
      try {
        return await Promise.race([
          handle.result().then((result): SecretChangeOutcome => ({ state: 'done', result })),
          new Promise<SecretChangeOutcome>((resolve) => {
            timer = setTimeout(() => resolve({ state: 'pending', workflowId, version: input.version }), waitMs);
          }),
        ]);
      } catch (err) {
        if (err instanceof WorkflowFailedError) {
          const cause = err.cause;
          throw new SecretChangeFailed(
            cause instanceof TemporalFailure ? cause.message : 'the change failed',
            cause instanceof ApplicationFailure ? (cause.type ?? undefined) : undefined,
          );
        }
        throw err;
      } finally {
        clearTimeout(timer);
      }
    },

    startDeleteAgent: (input) =>
      start(
        'deleteAgentWorkflow',
        deleteAgentWorkflowId(input.agentId),
        [input],
        [
          { key: AgentIdKey, value: input.agentId },
          { key: OwnerIdKey, value: input.ownerId },
          { key: WorkflowKindKey, value: DELETE_AGENT_WORKFLOW_KIND },
        ],
      ),

    startBillingWebhook: (input) =>
      start(
        'billingWebhookWorkflow',
        billingWebhookWorkflowId(input.eventKey),
        [input],
        [
          { key: OwnerIdKey, value: input.userId },
          { key: WorkflowKindKey, value: BILLING_WEBHOOK_WORKFLOW_KIND },
        ],
        // an ended one is not run again: a delivery Lemon Squeezy retries is applied once
        'REJECT_DUPLICATE',
      ),

    async deployProgress(workflowId) {
      try {
        return await withinQueryTimeout(client.workflow.getHandle(workflowId).query(progressQuery), null);
      } catch {
        return null;
      }
    },

    async workflowOutcome(workflowId) {
      try {
        return await withinQueryTimeout<WorkflowOutcome>(
          client.workflow
            .getHandle(workflowId)
            .describe()
            .then(({ status }) =>
              status.name === 'RUNNING' ? { state: 'running' } : { state: 'ended', how: status.name.toLowerCase() },
            ),
          { state: 'unknown' },
        );
      } catch (err) {
        return err instanceof WorkflowNotFoundError ? { state: 'missing' } : { state: 'unknown' };
      }
    },
  };
}
