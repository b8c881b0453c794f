import {
  AppError,
  isInFlight,
  rollbackRefusal,
  type Agent,
  type Deployment,
  type DeploymentSource,
} from '../lib/contracts/index.js';
import { parseWebhook, verifyWebhookSignature, webhookEventKey } from '../lib/billing/webhook.js';
import { newId } from '../lib/ids.js';
import { requireRuntime } from '../lib/runtime/availability.js';
import { requireRuntimeEntitlement } from './entitlements.js';
import { deleteAgentWorkflowId } from '../workflows/delete-agent/config.js';
import { deployWorkflowId } from '../workflows/deploy/config.js';
import { DeploymentErrorCode, PermanentFailure } from '../workflows/failures.js';
import { SECRET_WAIT_MS } from '../workflows/secrets/config.js';
import { SecretChangeFailed, type SecretChangeOutcome } from './temporal.js';
import { rollbackWorkflowId } from '../workflows/rollback/config.js';
import type { ApiDeps } from './deps.js';

// Orchestration helpers: the api records what a user asked for, then starts the workflow
// that carries it out, and undoes the record if the workflow cannot be started. Routes call
// these; they never sequence store writes and workflow starts themselves.

type Deps = Pick<ApiDeps, 'store' | 'workflows' | 'deployableRuntimes' | 'log'>;

/**
 * Records intent, then starts the work. When the start fails, `undo` releases what the
 * record holds (an in-flight slot, a pending state) and the caller gets a retryable
 * `internal` error; nothing is left waiting for a workflow that does not exist.
 */
export async function recordThenStart<R>(
  deps: Pick<ApiDeps, 'log'>,
  what: string,
  steps: { record: () => Promise<R>; start: (recorded: R) => Promise<void>; undo: (recorded: R) => Promise<unknown> },
): Promise<R> {
  const recorded = await steps.record();
  try {
    await steps.start(recorded);
  } catch (err) {
    deps.log.error({ err, what }, 'could not start the workflow; undoing what was recorded');
    await steps.undo(recorded);
    throw new AppError('internal', `could not start the ${what}; try again shortly`);
  }
  return recorded;
}

export interface StartDeploymentInput {
  ownerId: string;
  agentId: string;
  source: DeploymentSource;
}

/**
 * A deploy: a `queued` deployment (which takes the agent's one in-flight slot), then its
 * `deploy-<deploymentId>` workflow. If the workflow cannot be started, the deployment is
 * marked failed, which frees the slot. A slot held by a deployment whose workflow already
 * ended is freed first (`reconcileDeployment`).
 */
export async function startDeployment(deps: Deps, input: StartDeploymentInput): Promise<Deployment> {
  const { store } = deps;
  const agent = await store.getAgent(input.ownerId, input.agentId);
  requireRuntime(agent.runtime, deps.deployableRuntimes);
  await requireRuntimeEntitlement(store, input.ownerId, agent.runtime);
  const id = newId('dep');
  return recordThenStart(deps, 'deploy', {
    record: () =>
      freeingStuckSlot(deps, agent, () =>
        store.createDeployment({
          id,
          ownerId: input.ownerId,
          agentId: agent.id,
          workflowId: deployWorkflowId(id),
          source: input.source,
          now: new Date(),
        }),
      ),
    start: async (deployment) => {
      await deps.workflows.startDeploy({
        deploymentId: deployment.id,
        agentId: agent.id,
        ownerId: input.ownerId,
        runtime: agent.runtime,
        actor: `user:${input.ownerId}`,
      });
    },
    undo: (deployment) =>
      store.transitionDeployment({
        ownerId: input.ownerId,
        deploymentId: deployment.id,
        to: 'failed',
        now: new Date(),
        error: { code: DeploymentErrorCode.WorkflowStartFailed, message: 'the deploy workflow could not be started' },
      }),
  });
}

/**
 * A delete: the agent is soft-deleted at once (it stops serving; its history stays), then
 * `delete-<agentId>` destroys what it holds at its runtime. If that workflow cannot be
 * started the agent is restored, as it was.
 */
export async function deleteAgent(
  deps: Deps,
  input: { ownerId: string; agentId: string; actor: string },
): Promise<{ agent: Agent; workflowId: string }> {
  const { store } = deps;
  const ref = { ownerId: input.ownerId, agentId: input.agentId };
  const agent = await store.findAgent(input.ownerId, input.agentId);
  // Read while the agent's deployments can still be listed; a repeated delete tears down its current runtime.
  const runtimes = agent.status === 'active' ? await runtimesUsed(deps, agent) : [agent.runtime];
  const teardown = async () => {
    await deps.workflows.startDeleteAgent({ ...ref, runtime: agent.runtime, runtimes, actor: input.actor });
  };
  if (agent.status === 'deleted') {
    // Deleting twice is fine: the teardown runs again (joining one still running), harmlessly.
    try {
      await teardown();
    } catch (err) {
      deps.log.error({ err, agentId: agent.id }, 'could not start the delete workflow again');
      throw new AppError('internal', 'could not start the delete; try again shortly');
    }
    return { agent, workflowId: deleteAgentWorkflowId(agent.id) };
  }
  const deleted = await recordThenStart(deps, 'delete', {
    record: () =>
      freeingStuckSlot(deps, agent, () =>
        store.deleteAgent({
          ...ref,
          now: new Date(),
          audit: {
            actor: input.actor,
            action: 'agent.deleted',
            targetType: 'agent',
            targetId: agent.id,
            details: { runtimes },
          },
        }),
      ),
    start: teardown,
    undo: () =>
      store.restoreAgent({
        ...ref,
        now: new Date(),
        audit: {
          actor: 'platform',
          action: 'agent.restored',
          targetType: 'agent',
          targetId: agent.id,
          details: { reason: 'the teardown could not be started' },
        },
      }),
  });
  return { agent: deleted, workflowId: deleteAgentWorkflowId(agent.id) };
}

/** Every runtime the agent had versions on (it may have moved), and the one it is on now. */
async function runtimesUsed(deps: Deps, agent: Agent): Promise<Agent['runtime'][]> {
  const runtimes = new Set([agent.runtime]);
  let cursor: string | undefined;
  do {
    const page = await deps.store.listDeployments(agent.ownerId, agent.id, {
      limit: 100,
      ...(cursor ? { cursor } : {}),
    });
    for (const d of page.items) runtimes.add(d.runtime);
    cursor = page.nextCursor ?? undefined;
  } while (cursor);
  return [...runtimes];
}

export interface RollbackAgentInput {
  ownerId: string;
  agentId: string;
  deploymentId: string;
  actor: string;
}

/**
 * A rollback: the agent's one in-flight slot is taken for `rollback-<agentId>-<deploymentId>`
 * (refused while a deploy or another rollback holds it), then that workflow starts; if it
 * cannot, the slot is freed. The target is checked here first so a bad request is answered
 * at once, and again by the workflow.
 */
export async function rollbackAgent(deps: Deps, input: RollbackAgentInput): Promise<{ workflowId: string }> {
  const { store } = deps;
  const agent = await store.getAgent(input.ownerId, input.agentId);
  const target = await store.getDeployment(input.ownerId, input.deploymentId);
  if (target.agentId !== agent.id) throw new AppError('not_found', 'deployment not found');
  const refusal = rollbackRefusal(target, agent.id);
  if (refusal) throw new AppError('validation_failed', refusal);
  if (agent.activeDeploymentId === target.id) {
    throw new AppError('conflict', `deployment ${target.id} already serves this agent`);
  }
  const workflowId = rollbackWorkflowId(agent.id, target.id);
  const slot = { ownerId: input.ownerId, agentId: agent.id, workflowId };
  await recordThenStart(deps, 'rollback', {
    record: () => freeingStuckSlot(deps, agent, () => store.beginRollback({ ...slot, now: new Date() })),
    start: async () => {
      await deps.workflows.startRollback({ ...input, agentId: agent.id });
    },
    undo: () => store.endRollback({ ...slot, now: new Date() }),
  });
  return { workflowId };
}

export interface ChangeSecretInput {
  ownerId: string;
  agentId: string;
  name: string;
  /** The new value, or null to delete the secret. */
  value: string | null;
  actor: string;
}

/**
 * A secret change: `secret-<agentId>-<name>-<version>` sets (or deletes) it at the agent's
 * runtime and records the version. The api waits a while for it, so a client usually gets
 * the recorded version at once; a change still running is answered with its workflow.
 * Nothing is recorded before the runtime has the value: a change that fails leaves the
 * metadata as it was. No error says anything of the value.
 */
export async function changeSecret(deps: Deps, input: ChangeSecretInput): Promise<SecretChangeOutcome> {
  const { store } = deps;
  const agent = await store.getAgent(input.ownerId, input.agentId);
  requireRuntime(agent.runtime, deps.deployableRuntimes);
  if (input.value === null) {
    const set = await store.listSecretMetadata(input.ownerId, agent.id);
    if (!set.some((m) => m.name === input.name)) throw new AppError('not_found', `secret ${input.name} is not set`);
  }
  const version = (await store.secretVersion(input.ownerId, agent.id, input.name)) + 1;
  const change = {
    ownerId: input.ownerId,
    agentId: agent.id,
    runtime: agent.runtime,
    name: input.name,
    version,
    actor: input.actor,
    ...(input.value === null ? {} : { value: input.value }),
  };
  try {
    return await deps.workflows.changeSecret(change, SECRET_WAIT_MS);
  } catch (err) {
    if (err instanceof AppError) throw err;
    const redact = (text: string) => (input.value ? text.split(input.value).join('[redacted]') : text);
    if (err instanceof SecretChangeFailed) {
      if (err.type === PermanentFailure.NotFound) throw new AppError('not_found', 'agent not found');
      throw new AppError(
        'runtime_unavailable',
        `the ${agent.runtime} runtime did not take the change of ${input.name}: ${redact(err.message)}`,
      );
    }
    deps.log.error(
      { err: redact(String(err)), agentId: agent.id, name: input.name },
      'could not start a secret change',
    );
    throw new AppError('internal', `could not start the change of ${input.name}; try again shortly`);
  }
}

/** A deployment this young may still be on its way to Temporal: only an older one is judged lost. */
const START_GRACE_MS = 60_000;

/**
 * A deployment whose workflow ended without moving it to a final status (terminated or timed
 * out in Temporal, or lost) is marked failed (canceled, if it was canceled) with the reason,
 * which frees its agent for the next deploy. Anything still running, or that Temporal cannot
 * speak for right now, is left as it is.
 */
export async function reconcileDeployment(deps: Deps, deployment: Deployment): Promise<Deployment> {
  if (!isInFlight(deployment.status)) return deployment;
  const outcome = await deps.workflows.workflowOutcome(deployment.workflowId);
  let reason: string;
  if (outcome.state === 'ended') reason = `its workflow ended (${outcome.how}) before the deploy finished`;
  else if (outcome.state === 'missing' && Date.now() - Date.parse(deployment.createdAt) > START_GRACE_MS) {
    reason = 'its workflow no longer exists in Temporal';
  } else return deployment;
  const canceled = outcome.state === 'ended' && outcome.how === 'canceled';
  deps.log.warn({ deploymentId: deployment.id, outcome }, 'reconciling a deployment whose workflow ended');
  try {
    return await deps.store.transitionDeployment({
      ownerId: deployment.ownerId,
      deploymentId: deployment.id,
      to: canceled ? 'canceled' : 'failed',
      now: new Date(),
      error: { code: canceled ? DeploymentErrorCode.Canceled : DeploymentErrorCode.WorkflowEnded, message: reason },
    });
  } catch (err) {
    // It moved on meanwhile (the workflow's own last write won): read what it is now.
    if (err instanceof AppError && err.code === 'conflict')
      return deps.store.getDeployment(deployment.ownerId, deployment.id);
    throw err;
  }
}

/**
 * Runs `write`; if it is refused because the agent's in-flight slot is held by a rollback or a
 * deployment whose workflow has ended without freeing it (terminated in Temporal UI, lost),
 * frees the slot and runs `write` once more.
 */
async function freeingStuckSlot<T>(deps: Deps, agent: Agent, write: () => Promise<T>): Promise<T> {
  try {
    return await write();
  } catch (err) {
    if (!(err instanceof AppError && err.code === 'conflict')) throw err;
    const current = await deps.store.getAgent(agent.ownerId, agent.id);
    const holder = current.rollbackWorkflowId;
    if (holder) {
      const outcome = await deps.workflows.workflowOutcome(holder);
      // A slot taken moments ago may belong to a workflow still on its way to Temporal.
      const lost = outcome.state === 'missing' && Date.now() - Date.parse(current.updatedAt) > START_GRACE_MS;
      if (outcome.state !== 'ended' && !lost) throw err;
      deps.log.warn({ agentId: agent.id, workflowId: holder, outcome }, 'freeing a rollback slot whose workflow ended');
      await deps.store.endRollback({ ownerId: agent.ownerId, agentId: agent.id, workflowId: holder, now: new Date() });
      return write();
    }
    const [newest] = (await deps.store.listDeployments(agent.ownerId, agent.id, { limit: 1 })).items;
    if (!newest || !isInFlight(newest.status)) throw err;
    const reconciled = await reconcileDeployment(deps, newest);
    if (isInFlight(reconciled.status)) throw err;
    return write();
  }
}

/** What `POST /webhooks/lemonsqueezy` answers a verified delivery. */
export interface WebhookReceipt {
  received: true;
  eventKey: string;
  eventName: string;
  /** False when this delivery was recorded before (Lemon Squeezy retried it). */
  firstDelivery: boolean;
  /** `ls-<eventKey>`, or null for an event the platform does not act on. */
  workflowId: string | null;
}

/**
 * A Lemon Squeezy delivery (DESIGN.md §5): the signature over the raw body is checked before
 * anything else is read, then the delivery is recorded once under the sha256 of its body, then
 * `ls-<key>` is started (a start of an id already started, running or ended, is success, so a
 * retried delivery is applied once). If the start fails the caller gets a retryable `internal`
 * and Lemon Squeezy delivers again; the record stays, and the next start succeeds.
 */
export async function receiveLemonSqueezyWebhook(
  deps: Pick<ApiDeps, 'store' | 'workflows' | 'log' | 'billing'>,
  rawBody: Uint8Array,
  signature: string | undefined,
): Promise<WebhookReceipt> {
  const config = deps.billing?.config;
  if (!config?.webhookSecret) throw new AppError('not_found', 'billing webhooks are not configured on this platform');
  if (!verifyWebhookSignature(rawBody, signature, config.webhookSecret))
    throw new AppError('unauthorized', 'missing or invalid X-Signature');
  const parsed = parseWebhook(rawBody, config);
  if (parsed.kind === 'malformed') throw new AppError('validation_failed', parsed.reason);
  const eventKey = webhookEventKey(rawBody);
  const firstDelivery = await deps.store.recordWebhookEvent({
    provider: 'lemonsqueezy',
    eventId: eventKey,
    eventName: parsed.eventName,
    now: new Date(),
  });
  if (parsed.kind === 'ignored') {
    if (firstDelivery)
      deps.log.info({ eventKey, eventName: parsed.eventName, reason: parsed.reason }, 'webhook ignored');
    return { received: true, eventKey, eventName: parsed.eventName, firstDelivery, workflowId: null };
  }
  try {
    const { workflowId } = await deps.workflows.startBillingWebhook({
      eventKey,
      eventName: parsed.eventName,
      userId: parsed.userId,
      ...parsed.facts,
      graceMs: config.graceMs,
    });
    return { received: true, eventKey, eventName: parsed.eventName, firstDelivery, workflowId };
  } catch (err) {
    deps.log.error({ err, eventKey }, 'could not start the billing webhook workflow');
    throw new AppError('internal', 'could not start applying the event; deliver it again');
  }
}
