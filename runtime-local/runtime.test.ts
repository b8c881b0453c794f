import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { bundleFiles } from '../lib/build/bundle.js';
import { newId } from '../lib/ids.js';
import { exampleSource } from '../test/helpers/fixtures.js';
import { describeRuntimeConformance } from '../test/suites/runtime-conformance.js';
import type { LocalProvider } from '../lib/runtime/providers/local.js';
import { localProvider } from '../test/helpers/runtime.js';
import { startLocalRuntime } from './server.js';

describeRuntimeConformance('local (workerd via Miniflare)', async () => {
  const runtime = await startLocalRuntime({ dataDir: mkdtempSync(join(tmpdir(), 'wh-rt-')), port: 0, drainMs: 500 });
  return {
    provider: localProvider(runtime),
    close: () => runtime.close(),
  };
});

describe('local runtime', () => {
  it('refuses control calls without its token (agents share the loopback)', async () => {
    const runtime = await startLocalRuntime({ dataDir: mkdtempSync(join(tmpdir(), 'wh-rt-')), port: 0 });
    try {
      const res = await fetch(`${runtime.url}/agents/agt_x`, { method: 'DELETE' });
      expect(res.status).toBe(401);
      const forged = localProvider(runtime, 'wrong');
      await expect(forged.destroyAgent({ agentId: 'agt_x' })).rejects.toMatchObject({ kind: 'permanent' });
    } finally {
      await runtime.close();
    }
  });

  it('serves the active version again after a restart, with its Durable Object state', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'wh-rt-'));
    const agentId = newId('agt');
    const deploymentId = newId('dep');
    const call = async (provider: LocalProvider, versionRef: string) => {
      const res = await provider.invoke({
        versionRef,
        deploymentId,
        body: '{"input":null}',
        sessionId: 'same-session',
        accept: 'application/json',
        requestId: 'r',
      });
      return (JSON.parse(await res.text()) as { output: { count: number } }).output.count;
    };

    const first = await startLocalRuntime({ dataDir, port: 0 });
    const p1 = localProvider(first);
    const { versionRef } = await p1.deployVersion({
      agentId,
      deploymentId,
      bundle: await bundleFiles(exampleSource('counter')),
    });
    await p1.activateVersion({ agentId, versionRef });
    expect(await call(p1, versionRef)).toBe(1);
    expect(await call(p1, versionRef)).toBe(2);
    await first.close();

    const second = await startLocalRuntime({ dataDir, port: 0 });
    try {
      const p2 = localProvider(second);
      expect(await call(p2, versionRef)).toBe(3);
    } finally {
      await second.close();
    }
  });
});
