import { z } from 'zod';
import {
  AppError,
  IN_FLIGHT_STATUSES,
  judgeTransition,
  notFound,
  statusesLeadingTo,
  transitionStepEntry,
  type Deployment,
  type DeploymentSource,
  type DeploymentStatus,
  type Framework,
  type StepLogEntry,
} from '../../contracts/index.js';
import { decodeCursor, pageOfRows } from '../paging.js';
import type { DeploymentStore, TransitionInput } from '../port/index.js';
import { insertAudit } from './audit.js';
import { isUniqueViolation, type SqlClient, type SqlExecutor } from './client.js';
import { activeAgent, iso, isoOrNull, json, notifyChange, type Row } from './rows.js';

const DEPLOYMENT_COLUMNS = `id, agent_id, owner_id, version, runtime, status, source_type, framework, commit_sha,
  artifact_digest, provider_ref, workflow_id, steps, error, created_at, updated_at, finished_at`;

function toDeployment(r: Row): Deployment {
  return {
    id: r.id as string,
    agentId: r.agent_id as string,
    ownerId: r.owner_id as string,
    version: Number(r.version),
    runtime: r.runtime as Deployment['runtime'],
    status: r.status as DeploymentStatus,
    sourceType: r.source_type as Deployment['sourceType'],
    framework: (r.framework as Framework | null) ?? null,
    commitSha: (r.commit_sha as string | null) ?? null,
    artifactDigest: (r.artifact_digest as string | null) ?? null,
    providerRef: (r.provider_ref as string | null) ?? null,
    workflowId: r.workflow_id as string,
    steps: json<StepLogEntry[]>(r.steps),
    error: json<Deployment['error']>(r.error) ?? null,
    createdAt: iso(r.created_at),
    updatedAt: iso(r.updated_at),
    finishedAt: isoOrNull(r.finished_at),
  };
}

export function sqlDeployments(db: SqlClient): DeploymentStore {
  const getDeployment = async (ownerId: string, deploymentId: string): Promise<Deployment> => {
    const { rows } = await db.query(`select ${DEPLOYMENT_COLUMNS} from deployments where id = $1 and owner_id = $2`, [
      deploymentId,
      ownerId,
    ]);
    if (!rows[0]) throw notFound('deployment');
    return toDeployment(rows[0]);
  };

  const transitionDeployment = async (input: TransitionInput): Promise<Deployment> => {
    const entry = transitionStepEntry(input);
    // With an audit entry, the transition and its entry commit together.
    const atomically = <T>(fn: (q: SqlExecutor) => Promise<T>) => (input.audit ? db.transaction(fn) : fn(db));
    const done = await atomically(async (q) => {
      const { rows } = await q.query(
        `update deployments set
         status = $3,
         updated_at = $4,
         finished_at = case when $3 in ('live', 'failed', 'canceled') then $4 else finished_at end,
         artifact_digest = coalesce($5, artifact_digest),
         provider_ref = coalesce($6, provider_ref),
         error = coalesce($7::jsonb, error),
         steps = case when steps @> $8::jsonb then steps else steps || $8::jsonb end
       where id = $1 and owner_id = $2 and status = any($9::text[])
       returning ${DEPLOYMENT_COLUMNS}`,
        [
          input.deploymentId,
          input.ownerId,
          input.to,
          input.now,
          input.artifactDigest ?? null,
          input.providerRef ?? null,
          input.error ? JSON.stringify(input.error) : null,
          JSON.stringify(entry ? [entry] : []),
          statusesLeadingTo(input.to),
        ],
      );
      if (!rows[0]) return null;
      await notifyChange(q, { ownerId: input.ownerId, kind: 'deployment', id: input.deploymentId });
      if (input.audit) await insertAudit(q, { ...input.audit, ownerId: input.ownerId, now: input.now });
      return toDeployment(rows[0]);
    });
    if (done) return done;
    const current = await getDeployment(input.ownerId, input.deploymentId);
    const judged = judgeTransition(current.status, input.to);
    if (judged.kind === 'refuse') throw new AppError('conflict', judged.message);
    // Either a repeat (an activity retry) or a transition that raced with this one and is now allowed.
    if (judged.kind === 'repeat') return current;
    return transitionDeployment(input);
  };

  return {
    async createDeployment(input) {
      try {
        return await db.transaction(async (tx) => {
          const agent = await activeAgent(tx, input.ownerId, input.agentId, { lock: true });
          if (agent.rollbackWorkflowId !== null) {
            throw new AppError('conflict', 'a rollback of this agent is in progress; wait for it to finish');
          }
          const { rows } = await tx.query(
            `insert into deployments (id, agent_id, owner_id, version, runtime, status, source_type, source, workflow_id, created_at, updated_at)
             select $1, $2, $3, coalesce(max(version), 0) + 1, $4, 'queued', $5, $6, $7, $8, $8 from deployments where agent_id = $2
             returning ${DEPLOYMENT_COLUMNS}`,
            [
              input.id,
              agent.id,
              input.ownerId,
              agent.runtime,
              input.source.type,
              JSON.stringify(input.source),
              input.workflowId,
              input.now,
            ],
          );
          await notifyChange(tx, { ownerId: input.ownerId, kind: 'deployment', id: input.id });
          return toDeployment(rows[0]!);
        });
      } catch (err) {
        if (isUniqueViolation(err, 'deployments_one_in_flight')) {
          throw new AppError('conflict', 'a deployment of this agent is already in progress; wait for it to finish');
        }
        throw err;
      }
    },

    getDeployment,

    async findDeploymentOwner(deploymentId) {
      const { rows } = await db.query(`select id, owner_id, agent_id, runtime from deployments where id = $1`, [
        deploymentId,
      ]);
      const r = rows[0];
      if (!r) return null;
      return {
        deploymentId: r.id as string,
        ownerId: r.owner_id as string,
        agentId: r.agent_id as string,
        runtime: r.runtime as Deployment['runtime'],
      };
    },

    async getDeploymentSource(ownerId, deploymentId) {
      const { rows } = await db.query<{ source: unknown }>(
        `select source from deployments where id = $1 and owner_id = $2`,
        [deploymentId, ownerId],
      );
      if (!rows[0]) throw notFound('deployment');
      return json<DeploymentSource>(rows[0].source);
    },

    async listDeployments(ownerId, agentId, q) {
      const before = decodeCursor(q.cursor, z.number().int());
      await activeAgent(db, ownerId, agentId);
      const { rows } = await db.query(
        `select ${DEPLOYMENT_COLUMNS} from deployments
         where owner_id = $1 and agent_id = $2 and ($3::int is null or version < $3)
         order by version desc limit $4`,
        [ownerId, agentId, before ?? null, q.limit + 1],
      );
      return pageOfRows(rows.map(toDeployment), q.limit, (d) => d.version);
    },

    transitionDeployment,

    async recordDeploymentStep(input) {
      const { rowCount } = await db.query(
        `update deployments set steps = case when steps @> $3::jsonb then steps else steps || $3::jsonb end,
           updated_at = $4, provider_ref = coalesce($5, provider_ref)
         where id = $1 and owner_id = $2 and status = any($6::text[])`,
        [
          input.deploymentId,
          input.ownerId,
          JSON.stringify([input.entry]),
          input.entry.at,
          input.providerRef ?? null,
          IN_FLIGHT_STATUSES,
        ],
      );
      if (rowCount === 0) {
        const current = await getDeployment(input.ownerId, input.deploymentId);
        throw new AppError('conflict', `deployment is ${current.status} and can no longer change`);
      }
      await notifyChange(db, { ownerId: input.ownerId, kind: 'deployment', id: input.deploymentId });
    },

    async recordDeploymentBuild(input) {
      const { rowCount } = await db.query(
        `update deployments set framework = $3, commit_sha = coalesce($4, commit_sha)
         where id = $1 and owner_id = $2 and status = any($5::text[])`,
        [input.deploymentId, input.ownerId, input.framework, input.commitSha ?? null, IN_FLIGHT_STATUSES],
      );
      if (rowCount === 0) {
        const current = await getDeployment(input.ownerId, input.deploymentId);
        throw new AppError('conflict', `deployment is ${current.status} and can no longer change`);
      }
      await notifyChange(db, { ownerId: input.ownerId, kind: 'deployment', id: input.deploymentId });
    },
  };
}
