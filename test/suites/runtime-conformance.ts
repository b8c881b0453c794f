// The Runtime Provider conformance suite (architecture.md, Runtimes): the same tests for every adapter.
// Every provider runs it: `local` against real workerd (runtime-local/runtime.test.ts).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bundleFiles } from '../../lib/build/bundle.js';
import { SESSION_HEADER, type FilesSource } from '../../lib/contracts/index.js';
import { INVOKE_TOKEN_HEADER, PLATFORM_BINDINGS } from '../../lib/runtime/shim/index.js';
import { newId } from '../../lib/ids.js';
import {
  agentSource,
  echoVersion,
  exampleSource,
  THROWS_AT_START_AGENT,
  UNHEALTHY_AGENT,
} from '../helpers/fixtures.js';
import { ProviderError, type RuntimeProvider } from '../../lib/runtime/provider.js';

interface Version {
  agentId: string;
  deploymentId: string;
  versionRef: string;
}

export interface ConformanceTarget {
  provider: RuntimeProvider;
  close(): Promise<void>;
}

export function describeRuntimeConformance(name: string, setup: () => Promise<ConformanceTarget>) {
  describe(`runtime provider conformance: ${name}`, () => {
    let target: ConformanceTarget;
    let provider: RuntimeProvider;
    beforeAll(async () => {
      target = await setup();
      provider = target.provider;
    });
    afterAll(async () => target?.close());

    const deploy = async (agentId: string, source: FilesSource, deploymentId = newId('dep')): Promise<Version> => {
      const { versionRef } = await provider.deployVersion({ agentId, deploymentId, bundle: await bundleFiles(source) });
      return { agentId, deploymentId, versionRef };
    };
    const send = (v: Version, body: string, opts: { sessionId?: string; accept?: string } = {}) =>
      provider.invoke({
        versionRef: v.versionRef,
        deploymentId: v.deploymentId,
        body,
        sessionId: opts.sessionId ?? 'ses_test',
        accept: opts.accept ?? 'application/json',
        requestId: 'req_test',
      });
    const invokeJson = async (v: Version, input: unknown, sessionId = 'ses_test') => {
      const res = await send(v, JSON.stringify({ input }), { sessionId });
      expect(res.status).toBe(200);
      return JSON.parse(await res.text()) as { output: Record<string, unknown> };
    };

    it('deploys a version that passes its health check and answers invocations with the session id', async () => {
      const agentId = newId('agt');
      const v = await deploy(agentId, echoVersion('v1'));
      expect(await provider.healthCheck({ versionRef: v.versionRef })).toMatchObject({ ok: true, status: 200 });
      const body = await invokeJson(v, { hello: 'world' }, 'ses_abc');
      expect(body.output).toMatchObject({ echo: { hello: 'world' }, version: 'v1', sessionId: 'ses_abc' });
    });

    it('is idempotent per (agent, deployment)', async () => {
      const agentId = newId('agt');
      const deploymentId = newId('dep');
      const a = await deploy(agentId, echoVersion('v1'), deploymentId);
      const b = await deploy(agentId, echoVersion('v1'), deploymentId);
      expect(b.versionRef).toBe(a.versionRef);
    });

    it('keeps the active version serving while the next one is deployed, then switches', async () => {
      const agentId = newId('agt');
      const v1 = await deploy(agentId, echoVersion('v1'));
      await provider.activateVersion({ agentId, versionRef: v1.versionRef });
      const v2 = await deploy(agentId, echoVersion('v2'));
      expect((await invokeJson(v1, 1)).output.version).toBe('v1');
      expect((await invokeJson(v2, 1)).output.version).toBe('v2');
      await provider.activateVersion({ agentId, versionRef: v2.versionRef });
      expect((await invokeJson(v2, 1)).output.version).toBe('v2');
      // an earlier version can be activated again (rollback) and serves
      await provider.activateVersion({ agentId, versionRef: v1.versionRef });
      expect((await invokeJson(v1, 1)).output.version).toBe('v1');
    });

    it('streams Server-Sent Events as the agent writes them, not at the end', async () => {
      const v = await deploy(newId('agt'), exampleSource('stream'));
      const res = await send(v, JSON.stringify({ input: { text: 'a b c d', delayMs: 150 } }), {
        accept: 'text/event-stream',
      });
      expect(res.contentType).toContain('text/event-stream');
      const arrivals: number[] = [];
      let text = '';
      const decoder = new TextDecoder();
      for await (const chunk of res.body) {
        arrivals.push(Date.now());
        text += decoder.decode(chunk, { stream: true });
      }
      expect(text.match(/^data: /gm)).toHaveLength(4);
      // four events 150 ms apart: the first arrived well before the last
      expect(arrivals.at(-1)! - arrivals[0]!).toBeGreaterThanOrEqual(300);
    });

    it('reports a failing health check without throwing', async () => {
      const v = await deploy(newId('agt'), UNHEALTHY_AGENT);
      const result = await provider.healthCheck({ versionRef: v.versionRef });
      expect(result).toMatchObject({ ok: false, status: 500 });
      expect(result.detail).toContain('not ready');
    });

    it('refuses, as permanent, a version whose code throws at start', async () => {
      const err = await deploy(newId('agt'), THROWS_AT_START_AGENT).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ProviderError);
      expect(err).toMatchObject({ kind: 'permanent' });
      expect((err as Error).message).toContain('boom at start');
    });

    it('removes a version; removing it again succeeds', async () => {
      const agentId = newId('agt');
      const v = await deploy(agentId, echoVersion('v1'));
      await provider.removeVersion({ agentId, versionRef: v.versionRef });
      await provider.removeVersion({ agentId, versionRef: v.versionRef });
      await expect(send(v, '{}')).rejects.toBeInstanceOf(ProviderError);
    });

    it('gives secrets to the agent as env bindings, and takes them away', async () => {
      const agentId = newId('agt');
      const v = await deploy(agentId, echoVersion('v1'));
      await provider.activateVersion({ agentId, versionRef: v.versionRef });
      await provider.setSecret({ agentId, name: 'GREETING', value: 'hush' });
      expect((await invokeJson(v, 1)).output.greeting).toBe('hush');
      await provider.deleteSecret({ agentId, name: 'GREETING' });
      expect((await invokeJson(v, 1)).output.greeting).toBeNull();
    });

    it('tears an agent down', async () => {
      const agentId = newId('agt');
      const v = await deploy(agentId, echoVersion('v1'));
      await provider.destroyAgent({ agentId });
      await expect(send(v, '{}')).rejects.toBeInstanceOf(ProviderError);
    });

    it('passes the session header through unchanged', async () => {
      const v = await deploy(
        newId('agt'),
        agentSource(
          `export default { fetch(req) { return Response.json({ output: req.headers.get('${SESSION_HEADER}') }) } }`,
        ),
      );
      const res = await send(v, '{}', { sessionId: 'opaque/ses=1' });
      expect(await res.text()).toBe(JSON.stringify({ output: 'opaque/ses=1' }));
    });

    it('never shows the agent the invoke token, in its request, or the platform’s bindings in its env', async () => {
      const v = await deploy(
        newId('agt'),
        agentSource(`export default { fetch(req, env) {
          return Response.json({ output: { headers: [...req.headers.keys()], env: Object.keys(env) } });
        } }`),
      );
      const { output } = JSON.parse(await (await send(v, '{}')).text()) as {
        output: { headers: string[]; env: string[] };
      };
      expect(output.headers).not.toContain(INVOKE_TOKEN_HEADER);
      for (const name of PLATFORM_BINDINGS) expect(output.env).not.toContain(name);
    });

    it('answers an exception the agent throws with its message, never a stack or a path of the host', async () => {
      const v = await deploy(
        newId('agt'),
        agentSource(`function deep() { throw new Error('kaput in deep'); }
          export default { fetch() { deep(); } }`),
      );
      const res = await send(v, '{}');
      expect(res.status).toBe(500);
      const text = await res.text();
      expect(text).toContain('kaput in deep');
      expect(text).not.toMatch(/\bat \w|node_modules|\/work\/|\.js:\d+/);
    });
  });
}
