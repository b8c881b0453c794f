import { describe, expect, it } from 'vitest';
import { BUNDLER_CRASHERS } from '../../test/security/agents.js';
import { echoVersion } from '../../test/helpers/fixtures.js';
import { DEFAULT_LIMITS } from '../limits.js';
import { BuildError } from './bundle.js';
import { buildContained } from './contained.js';

// Builds in a child process group that the source can break without breaking anything else.

const limits = DEFAULT_LIMITS.build;

describe('buildContained', () => {
  it('builds a source in a child process, the agent wrapped in the shim', async () => {
    const bundle = await buildContained(echoVersion('v7'), limits);
    expect(bundle.bundle.modules['worker.js']).toContain('"v7"');
    expect(bundle.bundle.modules['worker.js']).toContain('x-webhost-invoke-token');
  });

  it.each(Object.entries(BUNDLER_CRASHERS))(
    'fails %s as a BuildError that says why, and the next build works',
    async (_, source) => {
      const err = await buildContained(source, limits).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(BuildError);
      expect((err as Error).message).toMatch(/^the (build|bundler)/);
      expect((await buildContained(echoVersion('after'), limits)).bundle.modules['worker.js']).toContain('"after"');
    },
  );

  it('stops a build at its time limit, its memory limit, and its bundle size limit', async () => {
    await expect(buildContained(echoVersion('v1'), { ...limits, timeoutMs: 10 })).rejects.toThrow(
      /took longer than 0.01 s \(build time limit\)/,
    );
    await expect(buildContained(echoVersion('v1'), { ...limits, memoryMb: 16 })).rejects.toThrow(
      /more than 16 MiB \(build memory limit\)/,
    );
    await expect(buildContained(echoVersion('v1'), { ...limits, bundleMaxBytes: 100 })).rejects.toThrow(
      /over the 100 bytes bundle limit/,
    );
  });

  it('stops a build when its caller aborts', async () => {
    const abort = new AbortController();
    const building = buildContained(echoVersion('v1'), limits, { signal: abort.signal });
    abort.abort();
    await expect(building).rejects.toThrow(/canceled/);
  });

  it('keeps refusing a source that does not build as its own message', async () => {
    await expect(buildContained(echoVersion('v1'), limits).then(() => 'ok')).resolves.toBe('ok');
    const broken = { type: 'files' as const, entry: 'index.js', files: { 'index.js': 'export default {' } };
    await expect(buildContained(broken, limits)).rejects.toThrow(/^index\.js:1:\d+: /);
  });
});
