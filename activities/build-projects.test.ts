import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ApplicationFailure } from '@temporalio/activity';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ArtifactStore } from '../lib/artifacts/index.js';
import { buildConfigFromEnv, type BuildConfig } from '../lib/config.js';
import type { DeploymentSource } from '../lib/contracts/index.js';
import { newId } from '../lib/ids.js';
import { DEFAULT_LIMITS } from '../lib/limits.js';
import { openStore, type Store } from '../lib/store/index.js';
import { activityRunner } from '../test/helpers/activities.js';
import { deployWorkflowId } from '../workflows/deploy/config.js';
import { PermanentFailure } from '../workflows/failures.js';
import { createBuildActivities } from './build.js';

// Projects built the way a deploy builds them: a real install from the npm registry (one tiny
// package, `ms`), the dependency cache, git checkouts of a repository made here, and the
// refusals a tenant meets, each with the message it sees on its failed deployment.

const MS_LOCK = JSON.stringify({
  name: 'p',
  version: '1.0.0',
  lockfileVersion: 3,
  requires: true,
  packages: {
    '': { name: 'p', version: '1.0.0', dependencies: { ms: '2.1.3' } },
    'node_modules/ms': {
      version: '2.1.3',
      integrity: 'sha512-6FlzubTLZG3J2a/NVCAleEhjzq5oxgHyaCU9yYXvcLsvoVaHJq/s5xXI6/XXP6tz7R9xAOtHnSO/tXtF3WRTlA==',
      license: 'MIT',
    },
  },
});
const pkg = (more: Record<string, unknown> = {}) =>
  JSON.stringify({ name: 'p', version: '1.0.0', main: 'src/index.js', dependencies: { ms: '2.1.3' }, ...more });
const AGENT = `import ms from 'ms';
export default { fetch: () => Response.json({ output: ms('2 days') }) };`;
const msProject = (agent = AGENT, more: Record<string, unknown> = {}) => ({
  'package.json': pkg(more),
  'package-lock.json': MS_LOCK,
  'src/index.js': agent,
});

let store: Store;
let artifacts: ArtifactStore;
let config: BuildConfig;
let gitRoot: string;
const limits = { ...DEFAULT_LIMITS.build, timeoutMs: 90_000 };

beforeAll(async () => {
  store = await openStore({ kind: 'pglite', dataDir: undefined });
  const data = mkdtempSync(join(tmpdir(), 'wh-projects-'));
  artifacts = new ArtifactStore(join(data, 'artifacts'));
  gitRoot = join(data, 'repos');
  mkdirSync(gitRoot);
  config = { ...buildConfigFromEnv({}, data), gitLocalRoots: [gitRoot] };
});
afterAll(async () => store?.close());

async function deploymentOf(source: DeploymentSource) {
  const ownerId = newId('usr');
  await store.ensureUser(ownerId, new Date());
  const agent = await store.createAgent({
    id: newId('agt'),
    ownerId,
    name: 'agent',
    runtime: 'local',
    now: new Date(),
  });
  const deploymentId = newId('dep');
  await store.createDeployment({
    id: deploymentId,
    ownerId,
    agentId: agent.id,
    workflowId: deployWorkflowId(deploymentId),
    source,
    now: new Date(),
  });
  await store.transitionDeployment({ ownerId, deploymentId, to: 'building', now: new Date() });
  return { ownerId, agentId: agent.id, deploymentId };
}

function activities(opts: { npm?: string[]; bundleMaxBytes?: number } = {}) {
  return createBuildActivities({
    store,
    artifacts,
    buildLimits: { ...limits, ...(opts.bundleMaxBytes ? { bundleMaxBytes: opts.bundleMaxBytes } : {}) },
    buildConfig: config,
    ...(opts.npm ? { npm: opts.npm } : {}),
  });
}

async function build(source: DeploymentSource, opts: Parameters<typeof activities>[0] = {}) {
  const ref = await deploymentOf(source);
  const result = await activityRunner()(activities(opts).bundleSource, ref);
  return { ref, result, deployment: await store.getDeployment(ref.ownerId, ref.deploymentId) };
}

async function buildFailure(source: DeploymentSource, opts: Parameters<typeof activities>[0] = {}): Promise<string> {
  const ref = await deploymentOf(source);
  const err = await activityRunner()(activities(opts).bundleSource, ref).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(ApplicationFailure);
  expect(err).toMatchObject({ nonRetryable: true, type: PermanentFailure.BuildFailed });
  return (err as Error).message;
}

/** A git repository under the allowed root, one commit per given tree, tagged `v<n>`. */
function gitRepo(name: string, commits: Record<string, string | { symlink: string }>[]): string[] {
  const dir = join(gitRoot, name);
  const git = (...args: string[]) =>
    execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@example.com', ...args], { cwd: dir })
      .toString()
      .trim();
  mkdirSync(dir, { recursive: true });
  git('init', '-q', '-b', 'main');
  return commits.map((files, i) => {
    for (const [path, content] of Object.entries(files)) {
      mkdirSync(dirname(join(dir, path)), { recursive: true });
      if (typeof content === 'string') writeFileSync(join(dir, path), content);
      else symlinkSync(content.symlink, join(dir, path));
    }
    git('add', '-A');
    git('commit', '-q', '-m', `commit ${i + 1}`);
    git('tag', `v${i + 1}`);
    return git('rev-parse', 'HEAD');
  });
}

describe('building projects', () => {
  it('installs a dependency from the registry, and a second build with the same lockfile runs no npm at all', async () => {
    const first = await build({ type: 'files', files: msProject() });
    expect(first.result).toMatchObject({ framework: 'plain', dependencies: 'npm' });
    const code = (await artifacts.get(first.result.artifactDigest)).modules['worker.js']!;
    expect(code).toMatch(/function\s+parse\s*\(/); // ms, from node_modules, is in the bundle
    expect(first.deployment).toMatchObject({ framework: 'plain', commitSha: null });
    expect(readdirSync(config.depsCacheDir).filter((e) => !e.startsWith('.'))).toHaveLength(1);

    // npm is not even there: the cache must serve it
    const second = await build(
      { type: 'files', files: msProject(AGENT.replace('2 days', '3 days'), { devDependencies: { hono: '^4' } }) },
      { npm: ['/nonexistent/npm'] },
    );
    expect(second.result).toMatchObject({ framework: 'hono', dependencies: 'cache' });
    expect(second.deployment.framework).toBe('hono');
    expect((await artifacts.get(second.result.artifactDigest)).modules['worker.js']).toContain('3 days');
  });

  it('says which package is missing, and that a devDependency is not installed', async () => {
    expect(await buildFailure({ type: 'files', files: msProject(`import pad from 'left-pad';\n${AGENT}`) })).toMatch(
      /^src\/index\.js:1:\d+: package left-pad is not installed \(add it to dependencies\)$/,
    );
    const dev = msProject(`import { Hono } from 'hono';\n${AGENT}`, { devDependencies: { hono: '^4' } });
    expect(await buildFailure({ type: 'files', files: dev })).toMatch(
      /package hono is a devDependency, which the build does not install \(move it to dependencies\)/,
    );
  });

  it('fails an install npm cannot do with npm’s own last lines', async () => {
    const files = { 'package.json': pkg({ dependencies: { ms: '99.99.99' } }), 'src/index.js': AGENT };
    const message = await buildFailure({ type: 'files', files });
    expect(message).toMatch(/^install failed: .*ms/s);
    expect(message).toMatch(/No matching version|ETARGET|notarget/i);
    expect(message).not.toContain(config.workDir);
  });

  it('refuses a bundle over the size limit, saying its size and the limit', async () => {
    expect(await buildFailure({ type: 'files', files: msProject() }, { bundleMaxBytes: 2_000 })).toMatch(
      /^the bundle is \d+ bytes, over the 2000 bytes bundle limit$/,
    );
  });

  it('refuses dependencies from outside the registry before running npm', async () => {
    const files = { 'package.json': pkg({ dependencies: { x: 'file:../../../etc' } }), 'src/index.js': AGENT };
    expect(await buildFailure({ type: 'files', files })).toMatch(/dependency x .* is not a registry version/);
  });
});

describe('building git sources', () => {
  it('checks out a tag, a branch or a full sha of a file:// repository and records the commit it built', async () => {
    const [sha1, sha2] = gitRepo('agent', [
      { 'agent/package.json': pkg(), 'agent/package-lock.json': MS_LOCK, 'agent/src/index.js': AGENT },
      { 'agent/src/index.js': AGENT.replace('2 days', '5 days') },
    ]);
    const url = pathToFileURL(join(gitRoot, 'agent')).href;
    const byTag = await build({ type: 'git', url, ref: 'v1', path: 'agent' });
    expect(byTag.result).toMatchObject({ commitSha: sha1, framework: 'plain' });
    expect(byTag.deployment).toMatchObject({ sourceType: 'git', commitSha: sha1, framework: 'plain' });
    const byBranch = await build({ type: 'git', url, ref: 'main', path: 'agent' });
    expect(byBranch.deployment.commitSha).toBe(sha2);
    expect((await artifacts.get(byBranch.result.artifactDigest)).modules['worker.js']).toContain('5 days');
    const bySha = await build({ type: 'git', url, ref: sha1!, path: 'agent' });
    expect(bySha.deployment.commitSha).toBe(sha1);
  });

  it('fails a ref that does not exist, a repository that does not, and a URL outside the allowed folders', async () => {
    gitRepo('plain', [{ 'index.js': 'export default { fetch: () => new Response("x") }', 'package.json': '{}' }]);
    const url = pathToFileURL(join(gitRoot, 'plain')).href;
    expect(await buildFailure({ type: 'git', url, ref: 'no-such-branch' })).toBe(
      `ref no-such-branch not found in ${url}`,
    );
    expect(await buildFailure({ type: 'git', url, ref: 'f'.repeat(40) })).toBe(
      `ref ${'f'.repeat(40)} not found in ${url}`,
    );
    expect(await buildFailure({ type: 'git', url: `${url}-missing`, ref: 'main' })).toMatch(
      /does not exist|could not read/,
    );
    expect(await buildFailure({ type: 'git', url: pathToFileURL(tmpdir()).href, ref: 'main' })).toMatch(
      /outside the folders this platform allows/,
    );
    // package.json names no entry: known only once the checkout is there
    expect(await buildFailure({ type: 'git', url, ref: 'main' })).toMatch(/package\.json names no entry/);
    expect(await buildFailure({ type: 'git', url, ref: 'main', path: 'nope' })).toMatch(/"nope" is not a folder/);
  });

  it('never reads outside the checkout: a symbolic link in the repository is checked out as a plain file', async () => {
    gitRepo('links', [
      {
        'index.js': `import secret from './secret.txt'; export default { fetch: () => new Response(secret) }`,
        'secret.txt': { symlink: '/etc/passwd' },
      },
    ]);
    const url = pathToFileURL(join(gitRoot, 'links')).href;
    const built = await build({ type: 'git', url, ref: 'main', entry: 'index.js' });
    const code = (await artifacts.get(built.result.artifactDigest)).modules['worker.js']!;
    expect(code).toContain('"/etc/passwd"'); // the link's text, not the file it names
    expect(code).not.toContain('root:');
  });
});
