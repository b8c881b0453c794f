import pg from 'pg';

/** Each table of the store's database: its row count and an md5 of all its rows, in a stable order. */
export type Snapshot = Record<string, { rows: number; md5: string }>;

/**
 * Reads the platform's PostgreSQL database (the one it was started on with `DATABASE_URL`)
 * from the test, while the platform runs: what "no change" is checked against.
 */
export class StoreReader {
  private constructor(private readonly db: pg.Client) {}

  static async connect(databaseUrl: string): Promise<StoreReader> {
    const db = new pg.Client({
      connectionString: databaseUrl,
      connectionTimeoutMillis: 5000,
      statement_timeout: 30_000,
    });
    await db.connect();
    return new StoreReader(db);
  }

  async tables(): Promise<string[]> {
    const { rows } = await this.db.query<{ table_name: string }>(
      `select table_name from information_schema.tables where table_schema = 'public' and table_type = 'BASE TABLE' order by 1`,
    );
    return rows.map((r) => r.table_name);
  }

  async snapshot(): Promise<Snapshot> {
    const out: Snapshot = {};
    for (const table of await this.tables()) {
      const { rows } = await this.db.query<{ rows: string; md5: string | null }>(
        `select count(*) as rows, md5(coalesce(string_agg(t::text, E'\\n' order by t::text), '')) as md5 from "${table}" t`,
      );
      out[table] = { rows: Number(rows[0]!.rows), md5: rows[0]!.md5 ?? '' };
    }
    return out;
  }

  /** Every row of every table as JSON text, by table. */
  async dump(): Promise<Record<string, string[]>> {
    const out: Record<string, string[]> = {};
    for (const table of await this.tables()) {
      const { rows } = await this.db.query<{ row: string }>(`select row_to_json(t)::text as row from "${table}" t`);
      out[table] = rows.map((r) => r.row);
    }
    return out;
  }

  query<R extends pg.QueryResultRow>(sql: string, params: unknown[] = []) {
    return this.db.query<R>(sql, params);
  }

  close() {
    return this.db.end();
  }
}

/** Tables whose count or content differ between two snapshots, with their counts. */
export function changedTables(before: Snapshot, after: Snapshot): string[] {
  const names = new Set([...Object.keys(before), ...Object.keys(after)]);
  return [...names]
    .filter((t) => before[t]?.md5 !== after[t]?.md5 || before[t]?.rows !== after[t]?.rows)
    .map((t) => `${t} (${before[t]?.rows ?? 'absent'} → ${after[t]?.rows ?? 'absent'} rows)`);
}
