import { AppError, notFound, type ApiKey } from '../../contracts/index.js';
import type { ApiKeyStore } from '../port/index.js';
import { isUniqueViolation, type SqlClient } from './client.js';
import { iso, isoOrNull, type Row } from './rows.js';

const toApiKey = (r: Row): ApiKey => ({
  id: r.id as string,
  ownerId: r.owner_id as string,
  name: r.name as string,
  prefix: r.prefix as string,
  createdAt: iso(r.created_at),
  revokedAt: isoOrNull(r.revoked_at),
});

/** Never the hash: it is looked up, not returned. */
const SHOWN = 'id, owner_id, name, prefix, created_at, revoked_at';

export function sqlApiKeys(db: SqlClient): ApiKeyStore {
  return {
    async createApiKey(input) {
      try {
        const { rows } = await db.query(
          `insert into api_keys (id, owner_id, name, prefix, hash, created_at) values ($1, $2, $3, $4, $5, $6) returning ${SHOWN}`,
          [input.id, input.ownerId, input.name, input.prefix, input.hash, input.now],
        );
        return toApiKey(rows[0]!);
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
      const { rows } = await db.query(
        `update api_keys set revoked_at = coalesce(revoked_at, $3) where id = $1 and owner_id = $2 returning ${SHOWN}`,
        [input.id, input.ownerId, input.now],
      );
      if (!rows[0]) throw notFound('API key');
      return toApiKey(rows[0]);
    },

    async findApiKeyByHash(hash) {
      const { rows } = await db.query<{ id: string; owner_id: string }>(
        `select id, owner_id from api_keys where hash = $1 and revoked_at is null`,
        [hash],
      );
      return rows[0] ? { id: rows[0].id, ownerId: rows[0].owner_id } : null;
    },
  };
}
