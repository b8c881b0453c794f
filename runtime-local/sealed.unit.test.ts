import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SealedValues } from './sealed.js';

describe('secret values sealed at rest in the local runtime', () => {
  it('seals so the value cannot be read back without the key, and opens with it', () => {
    const keyFile = join(mkdtempSync(join(tmpdir(), 'wh-seal-')), 'keys', 'secrets.key');
    const values = { API_KEY: 'canary-sealed-81c2' };
    const sealed = new SealedValues(keyFile).seal(values);
    expect(sealed).not.toContain('canary');
    expect(Buffer.from(sealed, 'base64').toString('latin1')).not.toContain('canary');
    // a second instance reads the same key file
    expect(new SealedValues(keyFile).open(sealed)).toEqual(values);
    expect(statSync(keyFile).mode & 0o777).toBe(0o600);
    expect(readFileSync(keyFile, 'utf8')).not.toContain('canary');
    const other = new SealedValues(join(mkdtempSync(join(tmpdir(), 'wh-seal-')), 'secrets.key'));
    expect(() => other.open(sealed)).toThrow();
  });
});
