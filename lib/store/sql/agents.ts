import { z } from 'zod';
import { AppError, IN_FLIGHT_STATUSES, notFound, type Agent } from '../../contracts/index.js';
import { decodeCursor, pageOfRows } from '../paging.js';
import type { AgentStore, AuditNote } from '../port/index.js';
import { insertAudit } from './audit.js';
import { isUniqueViolation, type SqlClient, type SqlExecutor } from './client.js';
import { activeAgent, notifyChange, notifyServing, SERVING_CHANNEL, toAgent } from './rows.js';

const nameTaken = (name: string) => new AppError('conflict', `an agent named "${name}" already exists`);
const rollingBack = () =>
  new AppError('conflict', 'a rollback of this agent is in progress; try again when it has finished');

export function sqlAgents(db: SqlClient): AgentStore {
  return {
    async createAgent(input) {
      try {
        return await db.transaction(async (tx) => {
          if (input.maxAgents !== undefined) {
            // the owner's row, locked: two creates at once count one after the other
            await tx.query('select 1 from users where id = $1 for update', [input.ownerId]);
            const { rows: counted } = await tx.query<{ n: string | number }>(
              `select count(*) as n from agents where owner_id = $1 and status = 'active'`,
              [input.ownerId],
            );
            if (Number(counted[0]!.n) >= input.maxAgents) {
              throw new AppError('entitlement_required', `at most ${input.maxAgents} agents on this account`);
            }
          }
          const { rows } = await tx.query(
            `insert into agents (id, owner_id, name, runtime, created_at, updated_at)
             values ($1, $2, $3, $4, $5, $5) returning *`,
            [input.id, input.ownerId, input.name, input.runtime, input.now],
          );
          await notifyChange(tx, { ownerId: input.ownerId, kind: 'agent', id: input.id });
          await auditIn(tx, input);
          return toAgent(rows[0]!);
        });
      } catch (err) {
        if (isUniqueViolation(err, 'agents_by_owner_name')) throw nameTaken(input.name);
        throw err;
      }
    },

    getAgent: (ownerId, agentId) => activeAgent(db, ownerId, agentId),

    async findAgent(ownerId, agentId) {
      const { rows } = await db.query(`select * from agents where id = $1 and owner_id = $2`, [agentId, ownerId]);
      if (!rows[0]) throw notFound('agent');
      return toAgent(rows[0]);
    },

    setAgentRuntime(input) {
      return db.transaction(async (tx) => {
        const { rows } = await tx.query(
          `update agents set runtime = $3, updated_at = $4 where id = $1 and owner_id = $2 and status = 'active' returning *`,
          [input.agentId, input.ownerId, input.runtime, input.now],
        );
        if (!rows[0]) throw notFound('agent');
        await notifyChange(tx, { ownerId: input.ownerId, kind: 'agent', id: input.agentId });
        await auditIn(tx, input);
        return toAgent(rows[0]);
      });
    },

    beginRollback(input) {
      return db.transaction(async (tx) => {
        const agent = await activeAgent(tx, input.ownerId, input.agentId, { lock: true });
        if (agent.rollbackWorkflowId === input.workflowId) return agent;
        if (agent.rollbackWorkflowId !== null) throw rollingBack();
        const inFlight = await tx.query(`select 1 from deployments where agent_id = $1 and status = any($2::text[])`, [
          agent.id,
          IN_FLIGHT_STATUSES,
        ]);
        if (inFlight.rows.length > 0) {
          throw new AppError('conflict', 'a deployment of this agent is in progress; try again when it has finished');
        }
        const { rows } = await tx.query(
          `update agents set rollback_workflow_id = $2, updated_at = $3 where id = $1 returning *`,
          [agent.id, input.workflowId, input.now],
        );
        await notifyChange(tx, { ownerId: input.ownerId, kind: 'agent', id: agent.id });
        return toAgent(rows[0]!);
      });
    },

    async endRollback(input) {
      const { rowCount } = await db.query(
        `update agents set rollback_workflow_id = null, updated_at = $4
         where id = $1 and owner_id = $2 and rollback_workflow_id = $3`,
        [input.agentId, input.ownerId, input.workflowId, input.now],
      );
      if (rowCount) await notifyChange(db, { ownerId: input.ownerId, kind: 'agent', id: input.agentId });
    },

    async listAgents(ownerId, q) {
      const after = decodeCursor(q.cursor, z.string());
      const { rows } = await db.query(
        `select * from agents where owner_id = $1 and status = 'active' and ($2::text is null or id < $2)
         order by id desc limit $3`,
        [ownerId, after ?? null, q.limit + 1],
      );
      return pageOfRows(rows.map(toAgent), q.limit, (a) => a.id);
    },

    async renameAgent(input) {
      try {
        return await db.transaction(async (tx) => {
          const { rows } = await tx.query(
            `update agents set name = $3, updated_at = $4 where id = $1 and owner_id = $2 and status = 'active' returning *`,
            [input.agentId, input.ownerId, input.name, input.now],
          );
          if (!rows[0]) throw notFound('agent');
          await notifyChange(tx, { ownerId: input.ownerId, kind: 'agent', id: input.agentId });
          await auditIn(tx, input);
          return toAgent(rows[0]);
        });
      } catch (err) {
        if (isUniqueViolation(err, 'agents_by_owner_name')) throw nameTaken(input.name);
        throw err;
      }
    },

    deleteAgent(input) {
      return db.transaction(async (tx) => {
        const agent = await activeAgent(tx, input.ownerId, input.agentId, { lock: true });
        if (agent.rollbackWorkflowId !== null) throw rollingBack();
        const inFlight = await tx.query(`select 1 from deployments where agent_id = $1 and status = any($2::text[])`, [
          agent.id,
          IN_FLIGHT_STATUSES,
        ]);
        if (inFlight.rows.length > 0) {
          throw new AppError('conflict', 'a deployment of this agent is in progress; try again when it has finished');
        }
        const { rows } = await tx.query(
          `update agents set status = 'deleted', deleted_at = $2, updated_at = $2 where id = $1 returning *`,
          [agent.id, input.now],
        );
        await notifyServing(tx, agent.id);
        await notifyChange(tx, { ownerId: input.ownerId, kind: 'agent', id: agent.id });
        await auditIn(tx, input);
        return toAgent(rows[0]!);
      });
    },

    async restoreAgent(input) {
      try {
        return await db.transaction(async (tx) => {
          const { rows } = await tx.query(
            `update agents set status = 'active', deleted_at = null, updated_at = $3
             where id = $1 and owner_id = $2 and status = 'deleted' returning *`,
            [input.agentId, input.ownerId, input.now],
          );
          if (!rows[0]) throw notFound('deleted agent');
          const agent = toAgent(rows[0]);
          await notifyServing(tx, agent.id);
          await notifyChange(tx, { ownerId: input.ownerId, kind: 'agent', id: agent.id });
          await auditIn(tx, input);
          return agent;
        });
      } catch (err) {
        if (isUniqueViolation(err, 'agents_by_owner_name'))
          throw new AppError('conflict', 'another agent took this agent’s name');
        throw err;
      }
    },

    async switchActiveDeployment(input) {
      if (input.next !== null) {
        const { rows } = await db.query(`select 1 from deployments where id = $1 and agent_id = $2 and owner_id = $3`, [
          input.next,
          input.agentId,
          input.ownerId,
        ]);
        if (!rows[0]) throw notFound('deployment');
      }
      // With an audit entry, the switch and its entry commit together.
      const atomically = <T>(fn: (q: SqlExecutor) => Promise<T>) => (input.audit ? db.transaction(fn) : fn(db));
      const made = await atomically(async (q) => {
        const { rows: switched } = await q.query(
          `with switched as (
             update agents set active_deployment_id = $4, updated_at = $5
             where id = $1 and owner_id = $2 and status = 'active' and active_deployment_id is not distinct from $3
             returning id
           )
           select pg_notify('${SERVING_CHANNEL}', id) from switched`,
          [input.agentId, input.ownerId, input.expected, input.next, input.now],
        );
        if (switched.length !== 1) return false;
        await notifyChange(q, { ownerId: input.ownerId, kind: 'agent', id: input.agentId });
        if (input.audit) await insertAudit(q, { ...input.audit, ownerId: input.ownerId, now: input.now });
        return true;
      });
      if (made) return true;
      await activeAgent(db, input.ownerId, input.agentId);
      return false;
    },

    async getServingTarget(ownerId, agentId) {
      const { rows } = await db.query(
        `select a.*, d.id as d_id, d.runtime as d_runtime, d.provider_ref as d_provider_ref
         from agents a left join deployments d on d.id = a.active_deployment_id
         where a.id = $1 and a.owner_id = $2 and a.status = 'active'`,
        [agentId, ownerId],
      );
      const r = rows[0];
      if (!r) throw notFound('agent');
      const deployment =
        r.d_id && r.d_provider_ref
          ? { id: r.d_id as string, runtime: r.d_runtime as Agent['runtime'], providerRef: r.d_provider_ref as string }
          : null;
      return { agent: toAgent(r), deployment };
    },
  };
}

/** The change's audit entry, in its transaction, when it carries one. */
async function auditIn(tx: SqlExecutor, input: { ownerId: string; now: Date; audit?: AuditNote }): Promise<void> {
  if (input.audit) await insertAudit(tx, { ...input.audit, ownerId: input.ownerId, now: input.now });
}
