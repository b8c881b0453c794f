import type { SecretMetadata } from '../../contracts/index.js';
import type { SecretStore } from '../port/index.js';
import { insertAudit } from './audit.js';
import type { SqlClient } from './client.js';
import { activeAgent, iso, n, type Row } from './rows.js';

const toSecret = (r: Row): SecretMetadata => ({
  agentId: r.agent_id as string,
  name: r.name as string,
  version: n(r.version),
  updatedAt: iso(r.updated_at),
});

export function sqlSecrets(db: SqlClient): SecretStore {
  return {
    async secretVersion(ownerId, agentId, name) {
      const { rows } = await db.query(
        `select s.version from agents a left join secret_metadata s on s.agent_id = a.id and s.name = $3
         where a.id = $2 and a.owner_id = $1 and a.status = 'active'`,
        [ownerId, agentId, name],
      );
      if (!rows[0]) {
        await activeAgent(db, ownerId, agentId);
      }
      return rows[0]?.version == null ? 0 : n(rows[0].version);
    },

    async recordSecretVersion(input) {
      await activeAgent(db, input.ownerId, input.agentId);
      const deletedAt = input.deleted ? input.now : null;
      const recorded = await db.transaction(async (tx) => {
        const { rows } = await tx.query(
          `insert into secret_metadata (owner_id, agent_id, name, version, updated_at, deleted_at)
           values ($1, $2, $3, $4, $5, $6)
           on conflict (agent_id, name) do update
             set version = excluded.version, updated_at = excluded.updated_at, deleted_at = excluded.deleted_at
             where secret_metadata.version < excluded.version
           returning agent_id, name, version, updated_at`,
          [input.ownerId, input.agentId, input.name, input.version, input.now, deletedAt],
        );
        if (!rows[0]) return null;
        // the entry commits with the version it records
        if (input.audit) await insertAudit(tx, { ...input.audit, ownerId: input.ownerId, now: input.now });
        return toSecret(rows[0]);
      });
      if (recorded) return recorded;
      // Already at this version or past it: a repeat, or a change that lost the race to a later one.
      const current = await db.query(
        `select agent_id, name, version, updated_at from secret_metadata where agent_id = $1 and name = $2`,
        [input.agentId, input.name],
      );
      return toSecret(current.rows[0]!);
    },

    async listSecretMetadata(ownerId, agentId) {
      await activeAgent(db, ownerId, agentId);
      const { rows } = await db.query(
        `select agent_id, name, version, updated_at from secret_metadata
         where agent_id = $1 and owner_id = $2 and deleted_at is null order by name`,
        [agentId, ownerId],
      );
      return rows.map(toSecret);
    },

    async forgetSecrets(input) {
      const { rowCount } = await db.query(
        `update secret_metadata set deleted_at = $3, updated_at = $3
         where owner_id = $1 and agent_id = $2 and deleted_at is null`,
        [input.ownerId, input.agentId, input.now],
      );
      return rowCount;
    },
  };
}
