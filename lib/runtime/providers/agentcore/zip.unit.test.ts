import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readZip, writeZip } from './zip.js';

describe('zip', () => {
  const files = { 'worker.js': 'export default {};\n'.repeat(50), 'dir/ü.txt': 'héllo', 'empty.txt': '' };

  it('round-trips and writes the same bytes for the same files', () => {
    const zip = writeZip(files);
    expect(writeZip({ ...files })).toEqual(zip);
    const back = readZip(zip);
    expect(Object.fromEntries([...back].map(([k, v]) => [k, v.toString('utf8')]))).toEqual(files);
  });

  it('is a standard archive that Info-ZIP unpacks', () => {
    const dir = mkdtempSync(join(tmpdir(), 'wh-zip-'));
    writeFileSync(join(dir, 'a.zip'), writeZip(files));
    execFileSync('unzip', ['-q', 'a.zip', '-d', 'out'], { cwd: dir });
    expect(readFileSync(join(dir, 'out', 'dir', 'ü.txt'), 'utf8')).toBe('héllo');
    expect(readFileSync(join(dir, 'out', 'worker.js'), 'utf8')).toBe(files['worker.js']);
  });

  it('refuses names that leave the directory, and archives that unpack too large', () => {
    expect(() => readZip(writeZip({ '../evil.js': 'x' }))).toThrow(/unsafe name/);
    expect(() => readZip(writeZip({ 'big.txt': 'x'.repeat(1000) }), 100)).toThrow(/more than 100 bytes/);
    expect(() => readZip(Buffer.from('not a zip'))).toThrow(/not a zip/);
  });
});
