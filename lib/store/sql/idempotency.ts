import { IDEMPOTENCY_KEY_TTL_MS } from '../../contracts/index.js';
import type { IdempotencyBegin, IdempotencyStore } from '../port/index.js';
import type { SqlClient } from './client.js';
import { json } from './rows.js';

export function sqlIdempotency(db: SqlClient): IdempotencyStore {
  const beginIdempotent: IdempotencyStore['beginIdempotent'] = async (input): Promise<IdempotencyBegin> => {
    // A key older than its time to live is taken anew, as if it had never been used.
    const inserted = await db.query(
      `insert into idempotency_records (owner_id, key, request_hash, created_at) values ($1, $2, $3, $4)
       on conflict (owner_id, key) do update
         set request_hash = excluded.request_hash, status = null, body = null, created_at = excluded.created_at
         where idempotency_records.created_at < $5`,
      [input.ownerId, input.key, input.requestHash, input.now, new Date(input.now.getTime() - IDEMPOTENCY_KEY_TTL_MS)],
    );
    if (inserted.rowCount === 1) return { state: 'new' };
    const { rows } = await db.query<{ request_hash: string; status: number | null; body: unknown }>(
      `select request_hash, status, body from idempotency_records where owner_id = $1 and key = $2`,
      [input.ownerId, input.key],
    );
    const r = rows[0];
    if (!r) return beginIdempotent(input); // abandoned between our insert and read
    if (r.request_hash !== input.requestHash) return { state: 'mismatch' };
    if (r.status === null) return { state: 'in_progress' };
    return { state: 'done', status: r.status, body: json(r.body) };
  };

  return {
    beginIdempotent,

    async completeIdempotent(input) {
      await db.query(`update idempotency_records set status = $3, body = $4 where owner_id = $1 and key = $2`, [
        input.ownerId,
        input.key,
        input.status,
        JSON.stringify(input.body),
      ]);
    },

    async abandonIdempotent(input) {
      await db.query(`delete from idempotency_records where owner_id = $1 and key = $2 and status is null`, [
        input.ownerId,
        input.key,
      ]);
    },

    async recordWebhookEvent(input) {
      const { rows } = await db.query(
        `insert into webhook_events (provider, event_id, event_name, received_at) values ($1, $2, $3, $4)
         on conflict (provider, event_id) do nothing returning 1 as ok`,
        [input.provider, input.eventId, input.eventName, input.now],
      );
      return rows.length === 1;
    },
  };
}
