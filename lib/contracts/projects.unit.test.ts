import { describe, expect, it } from 'vitest';
import { DeploymentSource } from './deployments.js';
import { detectFramework, projectEntry, wranglerJsonMain, wranglerTomlMain } from './projects.js';

const reader = (files: Record<string, string>) => (p: string) => files[p];

describe('entry detection', () => {
  it('takes the entry given, else wrangler main, else package.json module, else main', () => {
    const all = {
      'wrangler.toml': 'name = "a"\nmain = "./src/worker.ts"\n',
      'package.json': JSON.stringify({ module: 'src/mod.js', main: 'src/main.js' }),
    };
    expect(projectEntry(reader(all), 'src/given.js')).toEqual({ ok: true, entry: 'src/given.js', from: 'entry' });
    expect(projectEntry(reader(all))).toEqual({ ok: true, entry: 'src/worker.ts', from: 'wrangler.toml main' });
    const pkg = { 'package.json': all['package.json'] };
    expect(projectEntry(reader(pkg))).toMatchObject({ ok: true, entry: 'src/mod.js', from: 'package.json module' });
    expect(projectEntry(reader({ 'package.json': '{"main":"./index.js"}' }))).toMatchObject({ entry: 'index.js' });
    expect(projectEntry(reader({ 'wrangler.jsonc': '{\n // comment\n "main": "src/a.ts", /* x */\n}' }))).toEqual({
      ok: true,
      entry: 'src/a.ts',
      from: 'wrangler.jsonc main',
    });
  });

  it('says what is missing or wrong', () => {
    expect(projectEntry(reader({}))).toMatchObject({ ok: false, message: expect.stringMatching(/^no entry/) });
    expect(projectEntry(reader({ 'package.json': '{"name":"x"}' }))).toMatchObject({
      ok: false,
      message: expect.stringMatching(/package\.json names no entry/),
    });
    expect(projectEntry(reader({ 'package.json': '{oops' }))).toMatchObject({
      message: 'package.json is not valid JSON',
    });
    expect(projectEntry(reader({ 'package.json': '{"main":"../../etc/passwd"}' }))).toMatchObject({
      ok: false,
      message: expect.stringMatching(/leaves the project/),
    });
    expect(projectEntry(reader({ 'wrangler.toml': 'main = "/etc/passwd"' }))).toMatchObject({ ok: false });
  });

  it('reads only the top-level main of wrangler.toml, in either string form', () => {
    expect(wranglerTomlMain(`main = 'src/a.ts' # the worker`)).toBe('src/a.ts');
    expect(wranglerTomlMain(`name = "x"\nmain="src/\\"q\\".ts"`)).toBe('src/"q".ts');
    expect(wranglerTomlMain(`name = "x"\n[env.staging]\nmain = "src/b.ts"`)).toBeNull();
    expect(wranglerTomlMain(`mainly = "x"`)).toBeNull();
    expect(wranglerJsonMain('not json')).toBeNull();
    expect(wranglerJsonMain('{"main": "a//b.ts"}')).toBe('a//b.ts');
  });
});

describe('framework detection', () => {
  it('names the most specific framework a project depends on', () => {
    const deps = (...names: string[]) => ({ dependencies: Object.fromEntries(names.map((n) => [n, '1'])) });
    expect(detectFramework(deps('ai', 'hono'))).toBe('ai-sdk');
    expect(detectFramework(deps('hono'))).toBe('hono');
    expect(detectFramework(deps('agents', 'ai', 'hono'))).toBe('cloudflare-agents');
    expect(detectFramework(deps('@langchain/langgraph', '@langchain/core'))).toBe('langgraph');
    expect(detectFramework(deps('@mastra/core', 'ai'))).toBe('mastra');
    expect(detectFramework({ devDependencies: { hono: '4' } })).toBe('hono');
    expect(detectFramework(deps('lodash'))).toBe('plain');
    expect(detectFramework(null)).toBe('plain');
    expect(detectFramework(null, true)).toBe('python');
  });
});

describe('sources', () => {
  const files = (f: Record<string, string>, entry?: string) =>
    DeploymentSource.safeParse({ type: 'files', files: f, ...(entry ? { entry } : {}) });

  it('accepts a files source without entry when its manifest names one that is among the files', () => {
    expect(files({ 'package.json': '{"main":"src/i.js"}', 'src/i.js': 'x' }).success).toBe(true);
    expect(files({ 'wrangler.toml': 'main = "w.ts"', 'w.ts': 'x' }).success).toBe(true);
    expect(files({ 'package.json': '{"main":"dist/i.js"}', 'src/i.js': 'x' }).success).toBe(false);
    expect(files({ 'i.js': 'x' }).success).toBe(false);
    expect(files({ 'i.js': 'x' }, 'i.js').success).toBe(true);
  });

  it('takes git sources over https or file://, never with credentials, ssh, or a ref git could read as an option', () => {
    const git = (url: string, ref = 'main', more = {}) =>
      DeploymentSource.safeParse({ type: 'git', url, ref, ...more }).success;
    expect(git('https://github.com/a/b.git', 'v1.0.0', { path: 'agents/x', entry: 'src/i.ts' })).toBe(true);
    expect(git('file:///srv/repos/b', 'a'.repeat(40))).toBe(true);
    expect(git('https://u:p@github.com/a/b.git')).toBe(false);
    expect(git('https://token@github.com/a/b.git')).toBe(false);
    expect(git('git@github.com:a/b.git')).toBe(false);
    expect(git('ssh://github.com/a/b.git')).toBe(false);
    expect(git('ext::sh -c touch% /tmp/pwned')).toBe(false);
    expect(git('file://host/share/repo')).toBe(false);
    for (const ref of ['-u', '--upload-pack=x', 'a..b', 'a b', '/x', 'x.lock', 'refs@{1}'])
      expect(git('https://github.com/a/b.git', ref), ref).toBe(false);
    expect(git('https://github.com/a/b.git', 'main', { path: '../x' })).toBe(false);
  });

  it('takes an image source by its URI', () => {
    expect(DeploymentSource.safeParse({ type: 'image', uri: '1234.dkr.ecr.us-east-1.amazonaws.com/a:1' }).success).toBe(
      true,
    );
    expect(DeploymentSource.safeParse({ type: 'image', uri: 'Not A URI' }).success).toBe(false);
  });
});
