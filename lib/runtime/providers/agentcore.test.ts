// The `agentcore` provider against a fake AgentCore + S3 (test/fakes/agentcore) that speaks the
// AWS wire formats and runs each uploaded version's code with Node: the conformance suite, then
// what is particular to AgentCore (secrets as versions, Durable Objects refused, error mapping).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bundleFiles } from '../../build/bundle.js';
import { newId } from '../../ids.js';
import { echoVersion, exampleSource } from '../../../test/helpers/fixtures.js';
import { testInvokeToken, testTelemetryKey } from '../../../test/helpers/runtime.js';
import { apiUnderTest } from '../../../test/helpers/api.js';
import { telemetryOwner } from '../../../test/helpers/telemetry.js';
import { fakeWorkflows } from '../../../test/helpers/workflows.js';
import { listen } from '../../http/serve.js';
import { openStore } from '../../store/index.js';
import type { TelemetryConfig } from './cloudflare.js';
import { describeRuntimeConformance } from '../../../test/suites/runtime-conformance.js';
import { startFakeAgentCore, type FakeAgentCore } from '../../../test/fakes/agentcore/server.js';
import { ProviderError } from '../provider.js';
import {
  AGENTCORE_NOT_CONFIGURED,
  AgentCoreProvider,
  agentCoreConfigFromEnv,
  runtimeNameOf,
  runtimeSessionId,
} from './agentcore.js';

const BUCKET = 'webhost-code-test';
const ROLE = 'arn:aws:iam::123456789012:role/webhost-agentcore';

/** The provider as the platform would make it: configuration from the environment only. */
function providerFor(fake: FakeAgentCore, telemetry?: TelemetryConfig): AgentCoreProvider {
  const config = agentCoreConfigFromEnv({
    ...fake.env(),
    WEBHOST_AGENTCORE_ROLE_ARN: ROLE,
    WEBHOST_AGENTCORE_CODE_BUCKET: BUCKET,
  });
  if (!config) throw new Error('expected a configuration');
  // Credentials come from the SDK's standard chain: here, the environment.
  Object.assign(process.env, { AWS_ACCESS_KEY_ID: 'AKIDTEST', AWS_SECRET_ACCESS_KEY: 'test-secret' });
  return new AgentCoreProvider({
    ...config,
    invokeToken: testInvokeToken,
    ...(telemetry ? { telemetry } : {}),
    pollIntervalMs: 50,
    readyTimeoutMs: 20_000,
    callTimeoutMs: 10_000,
    maxAttempts: 1,
  });
}

describeRuntimeConformance('agentcore (fake AgentCore + S3, Node runs the code)', async () => {
  const fake = await startFakeAgentCore({ buckets: [BUCKET], maxRunning: 6 });
  return { provider: providerFor(fake), close: () => fake.close() };
});

describe('agentcore provider', () => {
  let fake: FakeAgentCore;
  let provider: AgentCoreProvider;
  beforeAll(async () => {
    fake = await startFakeAgentCore({ buckets: [BUCKET], maxRunning: 4 });
    provider = providerFor(fake);
  });
  afterAll(async () => fake?.close());

  const deploy = async (agentId: string, source = echoVersion('v1')) => {
    const deploymentId = newId('dep');
    const { versionRef } = await provider.deployVersion({ agentId, deploymentId, bundle: await bundleFiles(source) });
    return { agentId, deploymentId, versionRef };
  };
  const call = async (v: { versionRef: string; deploymentId: string }) => {
    const res = await provider.invoke({
      versionRef: v.versionRef,
      deploymentId: v.deploymentId,
      body: JSON.stringify({ input: 1 }),
      sessionId: 'ses_1',
      accept: 'application/json',
      requestId: 'req_1',
    });
    expect(res.status).toBe(200);
    return (JSON.parse(await res.text()) as { output: { version: string; greeting: string | null } }).output;
  };

  it('is not configured without region, role and bucket, and says what to set', () => {
    expect(agentCoreConfigFromEnv({})).toBeNull();
    expect(agentCoreConfigFromEnv({ AWS_REGION: 'us-east-1', WEBHOST_AGENTCORE_ROLE_ARN: ROLE })).toBeNull();
    expect(agentCoreConfigFromEnv({ AWS_REGION: 'us-east-1', WEBHOST_AGENTCORE_CODE_BUCKET: BUCKET })).toBeNull();
    expect(
      agentCoreConfigFromEnv({
        AWS_REGION: 'eu-west-1',
        WEBHOST_AGENTCORE_ROLE_ARN: ROLE,
        WEBHOST_AGENTCORE_CODE_BUCKET: BUCKET,
      }),
    ).toEqual({ region: 'eu-west-1', roleArn: ROLE, codeBucket: BUCKET, endpoints: {} });
    for (const name of ['AWS_REGION', 'WEBHOST_AGENTCORE_ROLE_ARN', 'WEBHOST_AGENTCORE_CODE_BUCKET']) {
      expect(AGENTCORE_NOT_CONFIGURED).toContain(name);
    }
  });

  it('derives valid AgentCore names and session ids', () => {
    const agentId = newId('agt');
    expect(runtimeNameOf(agentId)).toMatch(/^[a-zA-Z][a-zA-Z0-9_]{0,47}$/);
    expect(runtimeNameOf(`x-${'y'.repeat(80)}`)).toMatch(/^[a-zA-Z][a-zA-Z0-9_]{0,47}$/);
    const sid = runtimeSessionId('arn:aws:bedrock-agentcore:us-east-1:1:runtime/a', 's');
    expect(sid.length).toBeGreaterThanOrEqual(33);
    expect(sid).toBe(runtimeSessionId('arn:aws:bedrock-agentcore:us-east-1:1:runtime/a', 's'));
    expect(sid).not.toBe(runtimeSessionId('arn:aws:bedrock-agentcore:us-east-1:1:runtime/a', 't'));
  });

  it('makes a secret change a new version copied from the active one, kept by later deploys and rollbacks', async () => {
    const agentId = newId('agt');
    const v1 = await deploy(agentId, echoVersion('v1'));
    await provider.activateVersion({ agentId, versionRef: v1.versionRef });
    const before = fake.runtime(runtimeNameOf(agentId))!;
    expect(before.versions).toHaveLength(1);

    await provider.setSecret({ agentId, name: 'GREETING', value: 'hush-1' });
    const after = fake.runtime(runtimeNameOf(agentId))!;
    expect(after.versions).toHaveLength(2);
    const [base, copy] = after.versions;
    // the copy is the active version with the secret added, nothing else changed
    expect(copy!.env).toEqual({ ...base!.env, WEBHOST_SECRET_GREETING: 'hush-1' });
    expect(after.endpoints.live).toBe(copy!.version);
    expect(await call(v1)).toMatchObject({ version: 'v1', greeting: 'hush-1' });

    // the next deploy carries the secret; activating it serves it
    const v2 = await deploy(agentId, echoVersion('v2'));
    expect(await call(v2)).toMatchObject({ version: 'v2', greeting: 'hush-1' });
    await provider.activateVersion({ agentId, versionRef: v2.versionRef });

    // a change after that reaches v2, and a rollback to v1 brings v1 up to date
    await provider.setSecret({ agentId, name: 'GREETING', value: 'hush-2' });
    expect(await call(v2)).toMatchObject({ version: 'v2', greeting: 'hush-2' });
    await provider.activateVersion({ agentId, versionRef: v1.versionRef });
    expect(await call(v1)).toMatchObject({ version: 'v1', greeting: 'hush-2' });

    // setting the same value again makes no version
    const count = fake.runtime(runtimeNameOf(agentId))!.versions.length;
    await provider.setSecret({ agentId, name: 'GREETING', value: 'hush-2' });
    expect(fake.runtime(runtimeNameOf(agentId))!.versions).toHaveLength(count);

    await provider.deleteSecret({ agentId, name: 'GREETING' });
    expect(await call(v1)).toMatchObject({ version: 'v1', greeting: null });
  });

  it('keeps a secret set before the first deploy', async () => {
    const agentId = newId('agt');
    await provider.setSecret({ agentId, name: 'GREETING', value: 'early' });
    const v = await deploy(agentId);
    await provider.activateVersion({ agentId, versionRef: v.versionRef });
    expect(await call(v)).toMatchObject({ greeting: 'early' });
  });

  it('passes Server-Sent Events through in pieces, as they are written', async () => {
    const v = await deploy(newId('agt'), exampleSource('stream'));
    const res = await provider.invoke({
      versionRef: v.versionRef,
      deploymentId: v.deploymentId,
      body: JSON.stringify({ input: { text: 'one two three', delayMs: 200 } }),
      sessionId: 'ses_sse',
      accept: 'text/event-stream',
      requestId: 'req_sse',
    });
    expect(res.contentType).toContain('text/event-stream');
    const pieces: { at: number; text: string }[] = [];
    const decoder = new TextDecoder();
    for await (const chunk of res.body) pieces.push({ at: Date.now(), text: decoder.decode(chunk, { stream: true }) });
    expect(pieces.length).toBeGreaterThanOrEqual(3);
    expect(pieces[0]!.text).toContain('"delta":"one"');
    expect(pieces.at(-1)!.at - pieces[0]!.at).toBeGreaterThanOrEqual(300);
  });

  it('stops reading an answer when the caller aborts', async () => {
    const v = await deploy(newId('agt'), exampleSource('stream'));
    const controller = new AbortController();
    const res = await provider.invoke({
      versionRef: v.versionRef,
      deploymentId: v.deploymentId,
      body: JSON.stringify({ input: { text: 'a b c d e f g h', delayMs: 300 } }),
      sessionId: 'ses_abort',
      accept: 'text/event-stream',
      requestId: 'req_abort',
      signal: controller.signal,
    });
    const started = Date.now();
    let pieces = 0;
    const read = (async () => {
      for await (const _chunk of res.body) {
        pieces++;
        controller.abort();
      }
    })();
    await read.catch(() => undefined);
    expect(pieces).toBe(1);
    expect(Date.now() - started).toBeLessThan(1500);
  });

  it('refuses an agent with Durable Objects, permanently, before uploading anything', async () => {
    const bundle = await bundleFiles(exampleSource('counter'));
    expect(bundle.durableObjectClasses.length).toBeGreaterThan(0);
    const calls = fake.calls.length;
    const err = await provider
      .deployVersion({ agentId: newId('agt'), deploymentId: newId('dep'), bundle })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ProviderError);
    expect(err).toMatchObject({ kind: 'permanent' });
    expect((err as Error).message).toMatch(/Durable Object/);
    expect(fake.calls.length).toBe(calls);
  });

  it('maps throttling and server errors to retryable, validation and access errors to permanent', async () => {
    const bundle = await bundleFiles(echoVersion('v1'));
    const attempt = () => provider.deployVersion({ agentId: newId('agt'), deploymentId: newId('dep'), bundle });

    fake.failNext(1, {
      operation: 'CreateAgentRuntime',
      status: 429,
      type: 'ThrottlingException',
      message: 'Rate exceeded',
    });
    await expect(attempt()).rejects.toMatchObject({
      kind: 'retryable',
      message: expect.stringContaining('ThrottlingException'),
    });
    fake.failNext(1, { operation: 'CreateAgentRuntime', status: 500, type: 'InternalServerException' });
    await expect(attempt()).rejects.toMatchObject({ kind: 'retryable' });
    fake.failNext(1, { operation: 'PutObject', status: 503, type: 'SlowDown' });
    await expect(attempt()).rejects.toMatchObject({ kind: 'retryable' });
    fake.failNext(1, { operation: 'CreateAgentRuntime', status: 400, type: 'ValidationException', message: 'bad' });
    await expect(attempt()).rejects.toMatchObject({
      kind: 'permanent',
      message: expect.stringContaining('ValidationException'),
    });
    fake.failNext(1, { operation: 'CreateAgentRuntime', status: 403, type: 'AccessDeniedException' });
    await expect(attempt()).rejects.toMatchObject({ kind: 'permanent' });

    // invocations too; and the next call, without a fault, goes through
    const v = await deploy(newId('agt'));
    fake.failNext(1, { operation: 'InvokeAgentRuntime', status: 429, type: 'ThrottlingException' });
    await expect(call(v)).rejects.toMatchObject({ kind: 'retryable' });
    expect(await call(v)).toMatchObject({ version: 'v1' });
  });

  it('never puts a secret value in an error message', async () => {
    const agentId = newId('agt');
    const v = await deploy(agentId);
    await provider.activateVersion({ agentId, versionRef: v.versionRef });
    const value = 'sk-very-secret-value-123';
    fake.failNext(1, {
      operation: 'UpdateAgentRuntime',
      status: 400,
      type: 'ValidationException',
      message: `environmentVariables value ${value} is invalid`,
    });
    const err = (await provider
      .setSecret({ agentId, name: 'API_KEY', value })
      .catch((e: unknown) => e)) as ProviderError;
    expect(err).toMatchObject({ kind: 'permanent' });
    expect(err.message).toContain('ValidationException');
    expect(err.message).not.toContain(value);
  });

  it('refuses a version whose code fails to start, with the reason', async () => {
    const bundle = await bundleFiles({ entry: 'index.js', files: { 'index.js': 'export default 42;' } });
    const err = await provider
      .deployVersion({ agentId: newId('agt'), deploymentId: newId('dep'), bundle })
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ kind: 'permanent' });
    expect((err as Error).message).toContain('default export');
  });

  it('never removes the version the live endpoint serves', async () => {
    const agentId = newId('agt');
    const v = await deploy(agentId);
    await provider.activateVersion({ agentId, versionRef: v.versionRef });
    await provider.removeVersion({ agentId, versionRef: v.versionRef });
    expect(await call(v)).toMatchObject({ version: 'v1' });
  });

  it('destroys an agent: endpoints, runtime, code; again, and for an agent never deployed', async () => {
    const agentId = newId('agt');
    const v = await deploy(agentId);
    await provider.activateVersion({ agentId, versionRef: v.versionRef });
    const prefix = `webhost/${runtimeNameOf(agentId)}/`;
    expect(fake.objectKeys(BUCKET).some((k) => k.startsWith(prefix))).toBe(true);
    await provider.destroyAgent({ agentId });
    await provider.destroyAgent({ agentId });
    await expect(call(v)).rejects.toBeInstanceOf(ProviderError);
    expect(fake.objectKeys(BUCKET).some((k) => k.startsWith(prefix))).toBe(false);
    await provider.destroyAgent({ agentId: newId('agt') });
  });

  it('runs a bounded number of versions at once, starting others again when called', async () => {
    const versions = [];
    for (let i = 0; i < 6; i++) versions.push(await deploy(newId('agt'), echoVersion(`b${i}`)));
    for (const [i, v] of versions.entries()) expect(await call(v)).toMatchObject({ version: `b${i}` });
    expect(fake.runningCount()).toBeLessThanOrEqual(4);
    expect(await call(versions[0]!)).toMatchObject({ version: 'b0' });
  });
});

describe('agentcore provider: telemetry', () => {
  it('sets the telemetry key and target in the version’s environment, kept when a secret makes a new version; the shim posts to the api', async () => {
    const store = await openStore({ kind: 'pglite', dataDir: undefined });
    const api = await apiUnderTest(store, fakeWorkflows(), { telemetryKey: testTelemetryKey });
    const server = await listen(api.app.fetch, 0);
    const fake = await startFakeAgentCore({ buckets: [BUCKET], maxRunning: 2 });
    try {
      const provider = providerFor(fake, { key: testTelemetryKey, url: `${server.url}/v1/telemetry` });
      const o = await telemetryOwner(store, 'pro');
      const { versionRef } = await provider.deployVersion({
        agentId: o.agentId,
        deploymentId: o.deploymentId,
        bundle: await bundleFiles(echoVersion('v1')),
      });
      await provider.activateVersion({ agentId: o.agentId, versionRef });
      await provider.setSecret({ agentId: o.agentId, name: 'GREETING', value: 'hola' });
      const res = await provider.invoke({
        versionRef,
        deploymentId: o.deploymentId,
        body: JSON.stringify({ input: 1 }),
        sessionId: 'ses_telemetry_agentcore',
        accept: 'application/json',
        requestId: 'req_ac1',
      });
      expect(res.status).toBe(200);
      // the version that answers is the one the secret made
      expect(JSON.parse(await res.text())).toMatchObject({ output: { greeting: 'hola' } });
      const deadline = Date.now() + 15_000;
      let ids: string[] = [];
      while (ids.length === 0 && Date.now() < deadline) {
        ids = await o.eventIds();
        if (ids.length === 0) await new Promise((r) => setTimeout(r, 100));
      }
      expect(ids).toEqual([expect.stringMatching(/^inv:[0-9a-f]{32}$/)]);
    } finally {
      await fake.close();
      await server.close();
      await api.close();
      await store.close();
    }
  });
});
