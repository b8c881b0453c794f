import { mkdirSync, mkdtempSync, readdirSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { dependencyRefusal, depsCacheKey, evict, lockfileRefusal } from './deps.js';

const REGISTRY = 'https://registry.npmjs.org/';

describe('dependency cache key', () => {
  const pkg = { name: 'a', dependencies: { hono: '^4.0.0', ai: '^7.0.0' } };
  const conditions = ['workerd', 'worker', 'browser'];

  it('is the lockfile’s content address: same lockfile, same key; any change, another key', () => {
    const lock = '{"lockfileVersion":3,"packages":{}}';
    const key = depsCacheKey({ lockfile: lock, pkg, conditions });
    expect(key).toMatch(/^[0-9a-f]{64}$/);
    expect(depsCacheKey({ lockfile: lock, pkg: { ...pkg, name: 'renamed', main: 'x.js' } as never, conditions })).toBe(
      key,
    );
    expect(depsCacheKey({ lockfile: lock + ' ', pkg, conditions })).not.toBe(key);
    expect(depsCacheKey({ lockfile: lock, pkg, conditions: ['node'] })).not.toBe(key);
    expect(depsCacheKey({ lockfile: lock, pkg: { ...pkg, overrides: { x: '1' } } as never, conditions })).not.toBe(key);
  });

  it('without a lockfile, is the dependency fields in any key order; devDependencies do not count', () => {
    const a = depsCacheKey({ lockfile: null, pkg, conditions });
    const reordered = { dependencies: { ai: '^7.0.0', hono: '^4.0.0' }, devDependencies: { vitest: '5' } };
    expect(depsCacheKey({ lockfile: null, pkg: reordered, conditions })).toBe(a);
    expect(
      depsCacheKey({ lockfile: null, pkg: { dependencies: { ai: '^7.0.1', hono: '^4.0.0' } }, conditions }),
    ).not.toBe(a);
  });
});

describe('what may be installed', () => {
  it('takes registry versions, tags and npm: aliases only', () => {
    expect(dependencyRefusal({ dependencies: { a: '^1.2.3', b: 'latest', c: 'npm:d@^2', '@s/e': '1.x' } })).toBeNull();
    for (const spec of [
      'file:../secret',
      'link:/etc',
      'git+https://x/y.git',
      'https://x/y.tgz',
      'user/repo',
      'github:u/r',
    ])
      expect(dependencyRefusal({ dependencies: { a: spec } }), spec).toMatch(/is not a registry version/);
    expect(dependencyRefusal({ workspaces: ['packages/*'] })).toMatch(/workspaces are not supported/);
  });

  it('refuses a lockfile that fetches from elsewhere or links a folder', () => {
    const lock = (packages: Record<string, unknown>) => JSON.stringify({ lockfileVersion: 3, packages });
    expect(
      lockfileRefusal(lock({ '': {}, 'node_modules/a': { resolved: `${REGISTRY}a/-/a-1.tgz` } }), REGISTRY),
    ).toBeNull();
    expect(lockfileRefusal(lock({ 'node_modules/a': { version: '1.0.0' } }), REGISTRY)).toBeNull();
    expect(lockfileRefusal(lock({ 'node_modules/a': { resolved: 'http://127.0.0.1:3000/a.tgz' } }), REGISTRY)).toMatch(
      /resolves a from outside the registry/,
    );
    expect(lockfileRefusal(lock({ 'node_modules/a': { resolved: '../a', link: true } }), REGISTRY)).toMatch(/links/);
    expect(lockfileRefusal(lock({ 'packages/x': {} }), REGISTRY)).toMatch(/links a local folder/);
    expect(lockfileRefusal('{', REGISTRY)).toMatch(/not valid JSON/);
  });
});

describe('cache eviction', () => {
  it('removes least recently used entries until the cache fits, keeping the one just stored', () => {
    const dir = mkdtempSync(join(tmpdir(), 'wh-cache-'));
    const entry = (name: string, size: number, usedSecondsAgo: number) => {
      mkdirSync(join(dir, name));
      writeFileSync(join(dir, name, 'size'), String(size));
      const t = new Date(Date.now() - usedSecondsAgo * 1000);
      utimesSync(join(dir, name), t, t);
    };
    entry('old', 400, 300);
    entry('mid', 400, 200);
    entry('new', 400, 100);
    entry('justStored', 400, 400); // oldest by time, but kept
    mkdirSync(join(dir, '.tmp-x')); // another build's entry in the making is never touched
    evict(dir, 900, 'justStored');
    expect(readdirSync(dir).sort()).toEqual(['.tmp-x', 'justStored', 'new']);
  });
});
