import { AppError, notFound, type ApiKey } from '../../contracts/index.js';
import type { ApiKeyStore } from '../port/index.js';
import { insertAudit } from './audit.js';
import { isUniqueViolation, type SqlClient } from './client.js';
import { iso, isoOrNull, type Row } from './rows.js';

const toApiKey = (r: Row): ApiKey => ({
  id: r.id as string,
  ownerId: r.owner_id as string,
  name: r.name as string,
  prefix: r.prefix as string,
  agentId: (r.agent_id as string | null) ?? null,
  createdAt: iso(r.created_at),
  revokedAt: isoOrNull(r.revoked_at),
});

/** Never the hash: it is looked up, not returned. */
const SHOWN = 'id, owner_id, name, prefix, agent_id, created_at, revoked_at';

export function sqlApiKeys(db: SqlClient): ApiKeyStore {
  return {
    async createApiKey(input) {
      try {
        return await db.transaction(async (tx) => {
          // The owner's row, locked: concurrent creates of one owner take turns, so the count holds.
          const owner = await tx.query(`select id from users where id = $1 for update`, [input.ownerId]);
          if (!owner.rows[0]) throw notFound('user');
          if (input.agentId !== null) {
            const agent = await tx.query(`select 1 from agents where id = $1 and owner_id = $2 and status = 'active'`, [
              input.agentId,
              input.ownerId,
            ]);
            if (!agent.rows[0]) throw notFound('agent');
          }
          const { rows: counted } = await tx.query<{ n: number }>(
            `select count(*)::int as n from api_keys where owner_id = $1 and revoked_at is null`,
            [input.ownerId],
          );
          if (counted[0]!.n >= input.maxActive) {
            throw new AppError(
              'conflict',
              `an account holds at most ${input.maxActive} unrevoked API keys; revoke one before creating another`,
              { limit: input.maxActive },
            );
          }
          const { rows } = await tx.query(
            `insert into api_keys (id, owner_id, name, prefix, hash, agent_id, created_at) values ($1, $2, $3, $4, $5, $6, $7) returning ${SHOWN}`,
            [input.id, input.ownerId, input.name, input.prefix, input.hash, input.agentId, input.now],
          );
          await insertAudit(tx, {
            ownerId: input.ownerId,
            actor: input.actor,
            action: 'api_key.created',
            targetType: 'api_key',
            targetId: input.id,
            details: { name: input.name, prefix: input.prefix, agentId: input.agentId },
            now: input.now,
          });
          return toApiKey(rows[0]!);
        });
      } catch (err) {
        if (isUniqueViolation(err)) throw new AppError('conflict', 'an API key with this id or hash exists');
        throw err;
      }
    },

    async listApiKeys(ownerId) {
      const { rows } = await db.query(`select ${SHOWN} from api_keys where owner_id = $1 order by created_at, id`, [
        ownerId,
      ]);
      return rows.map(toApiKey);
    },

    async revokeApiKey(input) {
      return db.transaction(async (tx) => {
        const { rows: revoked } = await tx.query(
          `update api_keys set revoked_at = $3 where id = $1 and owner_id = $2 and revoked_at is null returning ${SHOWN}`,
          [input.id, input.ownerId, input.now],
        );
        if (revoked[0]) {
          const key = toApiKey(revoked[0]);
          await insertAudit(tx, {
            ownerId: input.ownerId,
            actor: input.actor,
            action: 'api_key.revoked',
            targetType: 'api_key',
            targetId: input.id,
            details: { name: key.name, prefix: key.prefix },
            now: input.now,
          });
          return key;
        }
        // Already revoked (it keeps its first time), or not the owner's.
        const { rows } = await tx.query(`select ${SHOWN} from api_keys where id = $1 and owner_id = $2`, [
          input.id,
          input.ownerId,
        ]);
        if (!rows[0]) throw notFound('API key');
        return toApiKey(rows[0]);
      });
    },

    async findApiKeyByHash(hash) {
      const { rows } = await db.query<{ id: string; owner_id: string; agent_id: string | null }>(
        `select id, owner_id, agent_id from api_keys where hash = $1 and revoked_at is null`,
        [hash],
      );
      return rows[0] ? { id: rows[0].id, ownerId: rows[0].owner_id, agentId: rows[0].agent_id ?? null } : null;
    },
  };
}
