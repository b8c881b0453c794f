/** The little a store needs from a SQL connection; PGlite and node-postgres both fit it. */
export interface SqlClient {
  query<T = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<{ rows: T[]; rowCount: number }>;
  /** Runs a script of several statements without parameters (migrations). */
  exec(sql: string): Promise<void>;
  /**
   * LISTEN on a channel: `onPayload` for each NOTIFY, `onReset` when notifications may have
   * been lost (the listening connection dropped and was re-established). Resolves to unlisten.
   */
  listen(channel: string, onPayload: (payload: string) => void, onReset: () => void): Promise<() => Promise<void>>;
  /** Runs `fn` in one transaction on one connection; rolls back if it throws. */
  transaction<R>(fn: (tx: SqlExecutor) => Promise<R>): Promise<R>;
  close(): Promise<void>;
}

export type SqlExecutor = Pick<SqlClient, 'query' | 'exec'>;

/** PostgreSQL's SQLSTATE for a unique violation. */
export const UNIQUE_VIOLATION = '23505';

export function isUniqueViolation(err: unknown, constraint?: string): boolean {
  const e = err as { code?: string; constraint?: string; message?: string } | null;
  if (e?.code !== UNIQUE_VIOLATION) return false;
  return constraint === undefined || e.constraint === constraint || (e.message ?? '').includes(constraint);
}
