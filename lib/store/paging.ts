import type { ZodType } from 'zod';
import { AppError, type Page } from '../contracts/index.js';

// Cursor pagination for every adapter (`?limit=&cursor=` → `{ items, nextCursor }`).
// Cursors are opaque to clients; inside they are the sort key of the last item returned.

export const encodeCursor = (key: unknown): string => Buffer.from(JSON.stringify(key)).toString('base64url');

/** The sort key inside a cursor, checked against `key`; a cursor we did not hand out is `validation_failed`. */
export function decodeCursor<T>(cursor: string | undefined, key: ZodType<T>): T | undefined {
  if (cursor === undefined) return undefined;
  let decoded: unknown;
  try {
    decoded = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    decoded = undefined;
  }
  const parsed = key.safeParse(decoded);
  if (!parsed.success) throw new AppError('validation_failed', 'cursor is not one this API handed out');
  return parsed.data;
}

/** A page of `items`; `next` is the sort key the next page starts after, null when there is none. */
export const pageOf = <T>(items: T[], next: unknown): Page<T> => ({
  items,
  nextCursor: next === null || next === undefined ? null : encodeCursor(next),
});

/** A page from a read of `limit + 1` rows: an extra row means there is a next page, after the last one kept. */
export function pageOfRows<T>(rows: T[], limit: number, key: (item: T) => unknown): Page<T> {
  const items = rows.slice(0, limit);
  const last = items.at(-1);
  return pageOf(items, rows.length > limit && last !== undefined ? key(last) : null);
}
