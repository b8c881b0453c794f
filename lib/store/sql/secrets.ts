import { notFound, type SecretMetadata } from '../../contracts/index.js';
import type { SecretStore } from '../port/index.js';
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
    async putSecretMetadata(input) {
      const { rows } = await db.query(
        `insert into secret_metadata (owner_id, agent_id, name, version, updated_at)
         select owner_id, id, $3, 1, $4 from agents where id = $2 and owner_id = $1 and status = 'active'
         on conflict (agent_id, name) do update set version = secret_metadata.version + 1, updated_at = excluded.updated_at
         returning agent_id, name, version, updated_at`,
        [input.ownerId, input.agentId, input.name, input.now],
      );
      if (!rows[0]) throw notFound('agent');
      return toSecret(rows[0]);
    },

    async listSecretMetadata(ownerId, agentId) {
      await activeAgent(db, ownerId, agentId);
      const { rows } = await db.query(
        `select agent_id, name, version, updated_at from secret_metadata where agent_id = $1 and owner_id = $2 order by name`,
        [agentId, ownerId],
      );
      return rows.map(toSecret);
    },

    async deleteSecretMetadata(input) {
      const { rowCount } = await db.query(
        `delete from secret_metadata where owner_id = $1 and agent_id = $2 and name = $3`,
        [input.ownerId, input.agentId, input.name],
      );
      if (rowCount === 0) throw notFound('secret');
    },
  };
}
