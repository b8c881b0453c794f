import { mkdtempSync } from 'node:fs';
import { networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { bundleFiles } from '../lib/build/bundle.js';
import { periodOf, type StoredUsageEvent } from '../lib/contracts/index.js';
import { listen } from '../lib/http/serve.js';
import { newId } from '../lib/ids.js';
import { openStore, type Store } from '../lib/store/index.js';
import { apiUnderTest } from '../test/helpers/api.js';
import { agentSource, exampleSource } from '../test/helpers/fixtures.js';
import { telemetryOwner } from '../test/helpers/telemetry.js';
import { fakeWorkflows } from '../test/helpers/workflows.js';
import { describeRuntimeConformance } from '../test/suites/runtime-conformance.js';
import type { LocalProvider } from '../lib/runtime/providers/local.js';
import { localProvider, testTelemetryKey } from '../test/helpers/runtime.js';
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

  it('lists the versions it holds for an agent, which one serves and which run; a removed one is gone', async () => {
    const runtime = await startLocalRuntime({ dataDir: mkdtempSync(join(tmpdir(), 'wh-rt-')), port: 0, drainMs: 100 });
    try {
      const provider = localProvider(runtime);
      const agentId = newId('agt');
      const [d1, d2, d3] = [newId('dep'), newId('dep'), newId('dep')];
      const bundle = await bundleFiles(exampleSource('echo'));
      const refs = [];
      for (const deploymentId of [d1, d2, d3])
        refs.push((await provider.deployVersion({ agentId, deploymentId, bundle })).versionRef);
      await provider.activateVersion({ agentId, versionRef: refs[1]! });
      await provider.removeVersion({ agentId, versionRef: refs[2]! });
      const list = async () =>
        (await (
          await fetch(`${runtime.url}/agents/${agentId}/versions`, {
            headers: { authorization: `Bearer ${runtime.token}` },
          })
        ).json()) as { active: string | null; items: { versionRef: string; deploymentId: string; running: boolean }[] };
      expect(await list()).toEqual({
        active: refs[1],
        items: [
          expect.objectContaining({ versionRef: refs[0], deploymentId: d1 }),
          expect.objectContaining({ versionRef: refs[1], deploymentId: d2, running: true }),
        ],
      });
      // the version that no longer serves drains and stops, and is still held
      await expect.poll(async () => (await list()).items[0]!.running, { timeout: 10_000 }).toBe(false);
      expect(await list()).toMatchObject({ items: [{ versionRef: refs[0] }, { versionRef: refs[1] }] });
      expect(
        await fetch(`${runtime.url}/agents/${newId('agt')}/versions`, {
          headers: { authorization: `Bearer ${runtime.token}` },
        }).then((r) => r.json()),
      ).toEqual({ active: null, items: [] });
      expect((await fetch(`${runtime.url}/agents/${agentId}/versions`)).status).toBe(401);
    } finally {
      await runtime.close();
    }
  });

  it('listens on loopback unless told otherwise (LOCAL_RUNTIME_HOST); told, its agents are reached on the control URL’s host', async (ctx) => {
    // the machine's own non-loopback address stands for another container's view of the runtime
    const ip = Object.values(networkInterfaces())
      .flat()
      .find((a) => a && a.family === 'IPv4' && !a.internal)?.address;
    if (!ip) {
      console.warn('skipped: this machine has no non-loopback IPv4 address to reach the runtime on');
      ctx.skip();
      return;
    }
    const loopback = await startLocalRuntime({ dataDir: mkdtempSync(join(tmpdir(), 'wh-rt-')), port: 0 });
    try {
      const port = new URL(loopback.url).port;
      await expect(fetch(`http://${ip}:${port}/healthz`)).rejects.toThrow();
    } finally {
      await loopback.close();
    }

    const runtime = await startLocalRuntime({
      dataDir: mkdtempSync(join(tmpdir(), 'wh-rt-')),
      port: 0,
      host: '0.0.0.0',
    });
    try {
      const provider = localProvider({ url: `http://${ip}:${new URL(runtime.url).port}`, token: runtime.token });
      const agentId = newId('agt');
      const deploymentId = newId('dep');
      const { versionRef } = await provider.deployVersion({
        agentId,
        deploymentId,
        bundle: await bundleFiles(exampleSource('counter')),
      });
      await provider.activateVersion({ agentId, versionRef });
      const res = await provider.invoke({
        versionRef,
        deploymentId,
        body: '{"input":null}',
        sessionId: 'from-elsewhere',
        accept: 'application/json',
        requestId: 'r',
      });
      expect(res.status).toBe(200);
      expect((JSON.parse(await res.text()) as { output: { count: number } }).output.count).toBe(1);
      // the version's own port answers on that address too, and without the invoke token refuses
      const endpoint = (await (
        await fetch(`${runtime.url}/versions/${versionRef}/endpoint`, {
          headers: { authorization: `Bearer ${runtime.token}` },
        })
      ).json()) as { url: string };
      const direct = await fetch(`http://${ip}:${new URL(endpoint.url).port}/invocations`, {
        method: 'POST',
        body: '{"input":null}',
      });
      expect(direct.status).toBe(401);
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

describe('telemetry from the shim, through the local runtime to the api', () => {
  /** The owner's events once at least `count` arrived (the shim posts after answering). */
  async function eventsOf(store: Store, o: { ownerId: string; agentId: string }, count: number) {
    const deadline = Date.now() + 15_000;
    for (;;) {
      const { items } = await store.listUsageEvents({ ownerId: o.ownerId, agentId: o.agentId, limit: 100 });
      if (items.length >= count || Date.now() > deadline) return items;
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  async function linesOf(store: Store, o: { ownerId: string; agentId: string }, count: number) {
    const deadline = Date.now() + 15_000;
    for (;;) {
      const lines = await store.listLogsAfter({ ownerId: o.ownerId, agentId: o.agentId, after: 0, limit: 100 });
      if (lines.length >= count || Date.now() > deadline) return lines;
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  it('never delays the answer or fails the agent when the api cannot be reached', async () => {
    // a port nothing listens on: every post fails at once and is tried again after a pause
    const closed = await listen(() => new Response(null), 0);
    await closed.close();
    const runtime = await startLocalRuntime({
      dataDir: mkdtempSync(join(tmpdir(), 'wh-rt-')),
      port: 0,
      telemetryUrl: `${closed.url}/v1/telemetry`,
    });
    try {
      const provider = localProvider(runtime);
      const deploymentId = newId('dep');
      const { versionRef } = await provider.deployVersion({
        agentId: newId('agt'),
        deploymentId,
        bundle: await bundleFiles(
          agentSource(`export default { async fetch(req, env, ctx) {
            ctx.waitUntil(Promise.resolve('done'));
            return Response.json({ output: 'answered' });
          } }`),
        ),
      });
      for (let i = 0; i < 3; i++) {
        const started = Date.now();
        const res = await provider.invoke({
          versionRef,
          deploymentId,
          body: '{"input":null}',
          sessionId: 'ses_t',
          accept: 'application/json',
          requestId: `req_unreachable${i}`,
        });
        expect(JSON.parse(await res.text())).toEqual({ output: 'answered' });
        // the shim's tries take 1.5 s of pauses; the answer does not wait for them
        expect(Date.now() - started).toBeLessThan(1_000);
      }
    } finally {
      await runtime.close();
    }
  });

  it('counts a real agent’s compute, background work, its tokens and failures, signed by the shim', async () => {
    const store = await openStore({ kind: 'pglite', dataDir: undefined });
    const api = await apiUnderTest(store, fakeWorkflows(), { telemetryKey: testTelemetryKey });
    const server = await listen(api.app.fetch, 0);
    const runtime = await startLocalRuntime({
      dataDir: mkdtempSync(join(tmpdir(), 'wh-rt-')),
      port: 0,
      telemetryUrl: `${server.url}/v1/telemetry`,
    });
    try {
      const provider = localProvider(runtime);
      const deploy = async (o: { agentId: string; deploymentId: string }, code: string) =>
        (
          await provider.deployVersion({
            agentId: o.agentId,
            deploymentId: o.deploymentId,
            bundle: await bundleFiles(agentSource(code)),
          })
        ).versionRef;
      const invoke = (
        o: { deploymentId: string },
        versionRef: string,
        requestId: string,
        accept = 'application/json',
      ) =>
        provider.invoke({
          versionRef,
          deploymentId: o.deploymentId,
          body: JSON.stringify({ input: 'hi' }),
          sessionId: 'ses_t',
          accept,
          requestId,
        });

      // JSON: 30 ms of work (behind a timer, the I/O that moves workerd's clock), background
      // work that reports tokens, and background work that fails
      const json = await telemetryOwner(store, 'pro');
      const jsonRef = await deploy(
        json,
        `const sleep = (ms, v) => new Promise((r) => setTimeout(() => r(v), ms));
        export default { async fetch(req, env, ctx) {
          const { input } = await req.json();
          await sleep(30);
          console.log('hello', req.headers.get('x-request-id'), { input });
          ctx.waitUntil(sleep(20, { usage: { promptTokens: 5, completionTokens: 2 } }));
          ctx.waitUntil(sleep(10).then(() => { throw new Error('late failure'); }));
          return Response.json({ output: input, env: Object.keys(env) });
        } }`,
      );
      const res = await invoke(json, jsonRef, 'req_telemetry1');
      expect(res.status).toBe(200);
      expect(JSON.parse(await res.text())).toEqual({ output: 'hi', env: [] });
      const events = await eventsOf(store, json, 3);
      const byKind = (kind: StoredUsageEvent['kind']) => events.filter((e) => e.kind === kind);
      expect(byKind('invocation')).toHaveLength(1);
      const [call] = byKind('invocation');
      expect(call!.id).toMatch(/^inv:[0-9a-f]{32}$/);
      expect(call!.computeMs).toBeGreaterThanOrEqual(25);
      expect(call!.ok).toBe(true);
      expect(
        byKind('background')
          .map((e) => [e.ok, e.inputTokens, e.outputTokens])
          .sort(),
      ).toEqual([
        [false, 0, 0],
        [true, 5, 2],
      ]);
      const [usage] = await store.getUsage({ ownerId: json.ownerId, period: periodOf(new Date()) });
      expect(usage).toMatchObject({ runtime: 'local', requests: 0, errors: 1, inputTokens: 5, outputTokens: 2 });
      expect(usage!.computeMs).toBeGreaterThanOrEqual(call!.computeMs + 10);

      // calls close together are summed into one invocation event: a row per post, not per call
      await Promise.all([2, 3, 4, 5].map(async (n) => (await invoke(json, jsonRef, `req_telemetry1${n}`)).text()));
      const after = await eventsOf(store, json, 3 + 1 + 8);
      const calls = after.filter((e) => e.kind === 'invocation');
      expect(calls).toHaveLength(2);
      expect(calls.find((e) => e.id !== call!.id)!.computeMs).toBeGreaterThanOrEqual(4 * 25);

      // console.* lines arrive signed, each with the request id of the call that wrote it,
      // though the calls ran at once in one isolate; the shim's own line for the failed
      // background work too
      const lines = await linesOf(store, json, 5 + 5);
      const hellos = lines.filter((l) => l.message.startsWith('hello '));
      expect(hellos.map((l) => [l.message, l.requestId, l.sessionId, l.level]).sort()).toEqual(
        ['req_telemetry1', 'req_telemetry12', 'req_telemetry13', 'req_telemetry14', 'req_telemetry15'].map((r) => [
          `hello ${r} {"input":"hi"}`,
          r,
          'ses_t',
          'log',
        ]),
      );
      expect(hellos.every((l) => /^log:[0-9a-f]{32}:\d+$/.test(l.id))).toBe(true);
      const failures = lines.filter((l) => l.message === 'background work failed: late failure');
      expect(failures).toHaveLength(5);
      expect(failures.every((l) => l.level === 'error' && l.requestId?.startsWith('req_telemetry1'))).toBe(true);

      // SSE: the call is timed to the end of its stream, not to its first byte
      const sse = await telemetryOwner(store, 'pro');
      const sseRef = await deploy(
        sse,
        `export default { async fetch() {
          const encoder = new TextEncoder();
          const body = new ReadableStream({ async start(c) {
            for (let i = 0; i < 3; i++) { c.enqueue(encoder.encode('data: ' + i + '\\n\\n')); await new Promise((r) => setTimeout(r, 100)); }
            c.close();
          } });
          return new Response(body, { headers: { 'content-type': 'text/event-stream' } });
        } }`,
      );
      const stream = await invoke(sse, sseRef, 'req_telemetry2', 'text/event-stream');
      // the measured stream still streams: its events arrive as written, not at the end
      const arrivals: number[] = [];
      let text = '';
      for await (const chunk of stream.body) {
        arrivals.push(Date.now());
        text += Buffer.from(chunk).toString();
      }
      expect(text.match(/^data: /gm)).toHaveLength(3);
      expect(arrivals.at(-1)! - arrivals[0]!).toBeGreaterThanOrEqual(150);
      const [streamed] = await eventsOf(store, sse, 1);
      expect(streamed).toMatchObject({ kind: 'invocation', ok: true });
      expect(streamed!.computeMs).toBeGreaterThanOrEqual(250);
    } finally {
      await runtime.close();
      await server.close();
      await api.close();
      await store.close();
    }
  });
});
