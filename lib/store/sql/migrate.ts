import { createHash } from 'node:crypto';
import type { SqlClient } from './client.js';
import { migrations } from './migrations.js';

/**
 * Applies the migrations a database lacks, in order, each in the transaction that records
 * it. An advisory lock keeps two processes starting at once from applying the same one.
 */
export async function migrate(db: SqlClient): Promise<void> {
  await db.query(
    `create table if not exists schema_migrations (version integer primary key, name text not null, applied_at timestamptz not null default now())`,
  );
  await db.transaction(async (tx) => {
    await tx.query(`select pg_advisory_xact_lock(${lockKey('webhost.migrations')})`);
    const { rows } = await tx.query<{ version: number }>('select version from schema_migrations');
    const applied = new Set(rows.map((r) => Number(r.version)));
    for (const m of migrations) {
      if (applied.has(m.version)) continue;
      await tx.exec(m.sql);
      await tx.query('insert into schema_migrations (version, name) values ($1, $2)', [m.version, m.name]);
    }
  });
}

function lockKey(name: string): string {
  return BigInt.asIntN(64, BigInt('0x' + createHash('sha256').update(name).digest('hex').slice(0, 16))).toString();
}
