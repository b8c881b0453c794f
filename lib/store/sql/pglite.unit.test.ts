import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openPglite } from './pglite.js';

describe('PGlite on disk', () => {
  it('is open in one place at a time: a second opening is refused, saying who holds it, until the first closes', async () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'wh-pglock-')), 'pg');
    const first = await openPglite(dir);
    await expect(openPglite(dir)).rejects.toThrow(/is open in this process; stop that first/);
    await first.close();
    expect(existsSync(`${dir}.lock`)).toBe(false);
    const again = await openPglite(dir);
    await again.query('select 1');
    await again.close();
  });

  it('takes over a lock left by a process that is gone', async () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'wh-pglock-')), 'pg');
    writeFileSync(`${dir}.lock`, '2147483646'); // no such process
    const db = await openPglite(dir);
    await db.close();
  });
});
