import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import Cloudflare from 'cloudflare';
import { bundleFiles } from '../../build/bundle.js';
import { newId } from '../../ids.js';
import { echoVersion, exampleSource } from '../../../test/helpers/fixtures.js';
import { testInvokeToken, testTelemetryKey } from '../../../test/helpers/runtime.js';
import { apiUnderTest } from '../../../test/helpers/api.js';
import { telemetryOwner } from '../../../test/helpers/telemetry.js';
import { fakeWorkflows } from '../../../test/helpers/workflows.js';
import { listen } from '../../http/serve.js';
import { openStore } from '../../store/index.js';
import { startFakeCloudflare, type FakeCloudflare } from '../../../test/fakes/cloudflare/server.js';
import { describeRuntimeConformance } from '../../../test/suites/runtime-conformance.js';
import { ProviderError } from '../provider.js';
import { INVOKE_TOKEN_BINDING, TELEMETRY_BINDING, TELEMETRY_KEY_BINDING } from '../shim/index.js';
import { CloudflareProvider, cloudflareConfigFromEnv, scriptNameFor } from './cloudflare.js';

const providerFor = (fake: FakeCloudflare, apiToken = fake.apiToken) =>
  new CloudflareProvider({
    apiToken,
    accountId: fake.accountId,
    baseURL: fake.apiUrl,
    workersUrl: fake.workersUrl,
    invokeToken: testInvokeToken,
  });

describeRuntimeConformance('cloudflare (fake Cloudflare API, workerd)', async () => {
  const fake = await startFakeCloudflare();
  const provider = providerFor(fake);
  return {
    provider,
    close: async () => {
      await provider.close();
      await fake.close();
    },
  };
});

describe('cloudflare provider', () => {
  let fake: FakeCloudflare;
  let provider: CloudflareProvider;
  beforeAll(async () => {
    fake = await startFakeCloudflare({ maxRunning: 6 });
    provider = providerFor(fake);
  });
  afterAll(async () => {
    await provider?.close();
    await fake?.close();
  });

  const deploy = async (agentId: string, version: string) => {
    const deploymentId = newId('dep');
    const { versionRef } = await provider.deployVersion({
      agentId,
      deploymentId,
      bundle: await bundleFiles(echoVersion(version)),
    });
    return { deploymentId, versionRef, versionId: versionRef.split('/')[1]! };
  };
  const call = async (v: { deploymentId: string; versionRef: string }) => {
    const res = await provider.invoke({
      versionRef: v.versionRef,
      deploymentId: v.deploymentId,
      body: JSON.stringify({ input: 1 }),
      sessionId: 's',
      accept: 'application/json',
      requestId: 'r',
    });
    expect(res.status).toBe(200);
    return (JSON.parse(await res.text()) as { output: { version: string; greeting: string | null } }).output;
  };

  it('uploads a metadata part naming a main module that is among the module parts', async () => {
    const agentId = newId('agt');
    const before = fake.requests.length;
    await deploy(agentId, 'v1');
    const uploads = fake.requests.slice(before).filter((r) => r.method === 'POST' && r.path.endsWith('/versions'));
    expect(uploads).toHaveLength(1);
    expect(uploads[0]!.parts).toEqual([
      { name: 'metadata', type: 'text/plain' },
      { name: 'worker.js', type: 'application/javascript+module' },
    ]);
    const [version] = fake.versionsOf(scriptNameFor(agentId)).slice(-1);
    expect(version!.bindings).toContainEqual(
      expect.objectContaining({ name: INVOKE_TOKEN_BINDING, type: 'secret_text' }),
    );
  });

  it('the fake refuses the multipart shape the SDK 7.x builds (cloudflare/cloudflare-typescript#2799)', async () => {
    const agentId = newId('agt');
    await deploy(agentId, 'v1');
    const sdk = new Cloudflare({ apiToken: fake.apiToken, baseURL: fake.apiUrl, maxRetries: 0 });
    const err = await sdk.workers.scripts.versions
      .create(scriptNameFor(agentId), {
        account_id: fake.accountId,
        metadata: { main_module: 'worker.js', compatibility_date: '2025-09-01' },
        files: [
          new File(['export default { fetch() { return new Response("x") } }'], 'worker.js', {
            type: 'application/javascript+module',
          }),
        ],
      })
      .catch((e: unknown) => e);
    expect(err).toMatchObject({
      status: 400,
      errors: [{ code: 10021, message: 'could not read content for part metadata' }],
    });
  });

  it('applies a secret to the active version, not to a newer upload that was not activated (10215)', async () => {
    const agentId = newId('agt');
    const script = scriptNameFor(agentId);
    const v1 = await deploy(agentId, 'v1');
    await provider.activateVersion({ agentId, versionRef: v1.versionRef });
    const v2 = await deploy(agentId, 'v2');
    // the latest version (v2) is not the one deployed at 100 %: Cloudflare itself refuses the change
    const direct = await new Cloudflare({
      apiToken: fake.apiToken,
      baseURL: fake.apiUrl,
      maxRetries: 0,
    }).workers.scripts.secrets
      .update(script, { account_id: fake.accountId, name: 'PROBE', text: 'x', type: 'secret_text' })
      .catch((e: unknown) => e);
    expect(direct).toMatchObject({ status: 400, errors: [{ code: 10215 }] });

    await provider.setSecret({ agentId, name: 'GREETING', value: 'hello-active' });
    expect((await call(v1)).greeting).toBe('hello-active');
    const versions = fake.versionsOf(script);
    const upload2 = versions.find((v) => v.id === v2.versionId)!;
    expect(upload2.bindings.map((b) => b.name)).not.toContain('GREETING');
    const active = fake.activeDeployment(script)!;
    expect(active.versions).toEqual([{ version_id: expect.any(String), percentage: 100 }]);
    const serving = versions.find((v) => v.id === active.versions[0]!.version_id)!;
    expect(serving.annotations['workers/tag']).toBe(v1.deploymentId);
    expect(serving.bindings).toContainEqual({ name: 'GREETING', type: 'secret_text', text: 'hello-active' });

    // the new version still answers its health check, then takes the secret when it is activated
    expect(await provider.healthCheck({ versionRef: v2.versionRef })).toMatchObject({ ok: true, status: 200 });
    await provider.activateVersion({ agentId, versionRef: v2.versionRef });
    expect(await call(v2)).toMatchObject({ version: 'v2', greeting: 'hello-active' });
  });

  it('shows a secret as env.NAME on the next invoke and keeps it across activations and rollbacks', async () => {
    const agentId = newId('agt');
    const v1 = await deploy(agentId, 'v1');
    await provider.activateVersion({ agentId, versionRef: v1.versionRef });
    await provider.setSecret({ agentId, name: 'GREETING', value: 'one' });
    expect((await call(v1)).greeting).toBe('one');
    await provider.setSecret({ agentId, name: 'GREETING', value: 'two' });
    expect((await call(v1)).greeting).toBe('two');

    const v2 = await deploy(agentId, 'v2');
    await provider.activateVersion({ agentId, versionRef: v2.versionRef });
    await provider.activateVersion({ agentId, versionRef: v2.versionRef }); // idempotent
    expect(await call(v2)).toEqual(expect.objectContaining({ version: 'v2', greeting: 'two' }));

    await provider.setSecret({ agentId, name: 'GREETING', value: 'three' });
    await provider.activateVersion({ agentId, versionRef: v1.versionRef }); // rollback
    expect(await call(v1)).toEqual(expect.objectContaining({ version: 'v1', greeting: 'three' }));
    await provider.deleteSecret({ agentId, name: 'GREETING' });
    await provider.deleteSecret({ agentId, name: 'GREETING' });
    expect((await call(v1)).greeting).toBeNull();
  });

  it('migrates Durable Object classes with a script upload that leaves the active version serving', async () => {
    const count = async (v: { deploymentId: string; versionRef: string }) => {
      const res = await provider.invoke({
        versionRef: v.versionRef,
        deploymentId: v.deploymentId,
        body: '{"input":null}',
        sessionId: 'same-session',
        accept: 'application/json',
        requestId: 'r',
      });
      expect(res.status).toBe(200);
      return (JSON.parse(await res.text()) as { output: { count: number } }).output.count;
    };
    const deployCounter = async (agentId: string) => {
      const deploymentId = newId('dep');
      const bundle = await bundleFiles(exampleSource('counter'));
      expect(bundle.durableObjectClasses).toEqual(['Counter']);
      const { versionRef } = await provider.deployVersion({ agentId, deploymentId, bundle });
      return { deploymentId, versionRef };
    };

    // a new agent: the script is created with the migration
    const fresh = newId('agt');
    const c0 = await deployCounter(fresh);
    expect(await count(c0)).toBe(1);
    expect(await count(c0)).toBe(2);

    // an agent already serving: the migration re-uploads the active version, which keeps answering
    const agentId = newId('agt');
    const script = scriptNameFor(agentId);
    const v1 = await deploy(agentId, 'v1');
    await provider.activateVersion({ agentId, versionRef: v1.versionRef });
    await provider.setSecret({ agentId, name: 'GREETING', value: 'kept' });
    const before = fake.requests.length;
    const c1 = await deployCounter(agentId);
    const migrations = fake.requests
      .slice(before)
      .filter((r) => r.method === 'PUT' && r.path.endsWith(`/workers/scripts/${script}`));
    expect(migrations).toHaveLength(1);
    expect(await call(v1)).toMatchObject({ version: 'v1', greeting: 'kept' });
    await provider.activateVersion({ agentId, versionRef: c1.versionRef });
    expect(await count(c1)).toBe(1);
    expect(await count(c1)).toBe(2);
    // the next deploy of the same classes needs no migration
    const again = fake.requests.length;
    await deployCounter(agentId);
    expect(fake.requests.slice(again).filter((r) => r.method === 'PUT')).toHaveLength(0);
  });

  it('stops an invocation when its signal aborts', async () => {
    const v = await deploy(newId('agt'), 'v1');
    const signal = AbortSignal.abort();
    await expect(
      provider.invoke({
        versionRef: v.versionRef,
        deploymentId: v.deploymentId,
        body: '{}',
        sessionId: 's',
        accept: 'application/json',
        requestId: 'r',
        signal,
      }),
    ).rejects.toThrow();
  });

  it('maps a 500 to a retryable error and succeeds when asked again; a 403 is permanent', async () => {
    const agentId = newId('agt');
    fake.failNext(1, 500);
    const first = await deploy(agentId, 'v1').catch((e: unknown) => e);
    expect(first).toBeInstanceOf(ProviderError);
    expect(first).toMatchObject({ kind: 'retryable' });
    const v = await deploy(agentId, 'v1');
    expect((await call(v)).version).toBe('v1');

    fake.failNext(1, 429);
    await expect(provider.setSecret({ agentId, name: 'X', value: 'secret-value-1' })).rejects.toMatchObject({
      kind: 'retryable',
    });

    fake.failNext(1, 403);
    const forbidden = await provider
      .setSecret({ agentId, name: 'X', value: 'secret-value-2' })
      .catch((e: unknown) => e);
    expect(forbidden).toMatchObject({ kind: 'permanent' });
    expect((forbidden as Error).message).not.toContain('secret-value-2');

    const wrongToken = providerFor(fake, 'not-the-token');
    const denied = await wrongToken.setSecret({ agentId, name: 'X', value: 'secret-value-3' }).catch((e: unknown) => e);
    expect(denied).toMatchObject({ kind: 'permanent' });
    expect((denied as Error).message).not.toContain('secret-value-3');
    await wrongToken.close();
  });

  it('destroys the agent: the script and its running versions go, and destroying again succeeds', async () => {
    const agentId = newId('agt');
    const v = await deploy(agentId, 'v1');
    await provider.activateVersion({ agentId, versionRef: v.versionRef });
    await provider.setSecret({ agentId, name: 'GREETING', value: 'x' });
    expect(fake.scripts()).toContain(scriptNameFor(agentId));
    await provider.destroyAgent({ agentId });
    expect(fake.scripts()).not.toContain(scriptNameFor(agentId));
    expect(fake.versionsOf(scriptNameFor(agentId))).toEqual([]);
    await provider.destroyAgent({ agentId });
    await expect(call(v)).rejects.toMatchObject({ kind: 'permanent' });
    expect(fake.running()).toBeLessThanOrEqual(6);
  });

  it('names one valid script per agent, deterministically', () => {
    const id = newId('agt');
    expect(scriptNameFor(id)).toBe(scriptNameFor(id));
    expect(scriptNameFor(id)).toMatch(/^[a-z0-9-]{1,63}$/);
    expect(scriptNameFor('Weird Agent/ID')).toMatch(/^[a-z0-9-]{1,63}$/);
    expect(scriptNameFor('a')).not.toBe(scriptNameFor('b'));
  });

  it('reads its configuration from the environment, or none without credentials', () => {
    expect(cloudflareConfigFromEnv({})).toBeNull();
    expect(cloudflareConfigFromEnv({ CLOUDFLARE_API_TOKEN: 't' })).toBeNull();
    expect(cloudflareConfigFromEnv({ CLOUDFLARE_ACCOUNT_ID: 'a' })).toBeNull();
    expect(cloudflareConfigFromEnv({ CLOUDFLARE_API_TOKEN: 't', CLOUDFLARE_ACCOUNT_ID: 'a' })).toEqual({
      apiToken: 't',
      accountId: 'a',
    });
    expect(
      cloudflareConfigFromEnv({
        CLOUDFLARE_API_TOKEN: 't',
        CLOUDFLARE_ACCOUNT_ID: 'a',
        CLOUDFLARE_BASE_URL: 'http://127.0.0.1:1/client/v4',
        CLOUDFLARE_WORKERS_URL: 'http://127.0.0.1:2/{script}',
      }),
    ).toEqual({
      apiToken: 't',
      accountId: 'a',
      baseURL: 'http://127.0.0.1:1/client/v4',
      workersUrl: 'http://127.0.0.1:2/{script}',
    });
  });
});

describe('cloudflare provider: telemetry', () => {
  it('gives each version its telemetry key as a secret that survives re-made versions, and its shim posts to the api', async () => {
    const store = await openStore({ kind: 'pglite', dataDir: undefined });
    const api = await apiUnderTest(store, fakeWorkflows(), { telemetryKey: testTelemetryKey });
    const server = await listen(api.app.fetch, 0);
    const fake = await startFakeCloudflare({ maxRunning: 3, egress: ['127.0.0.1/32'] });
    const provider = new CloudflareProvider({
      apiToken: fake.apiToken,
      accountId: fake.accountId,
      baseURL: fake.apiUrl,
      workersUrl: fake.workersUrl,
      invokeToken: testInvokeToken,
      telemetry: { key: testTelemetryKey, url: `${server.url}/v1/telemetry` },
    });
    try {
      const o = await telemetryOwner(store, 'pro');
      const script = scriptNameFor(o.agentId);
      // an earlier version with a secret, so activating the next one re-makes it with the agent's secrets
      const first = await provider.deployVersion({
        agentId: o.agentId,
        deploymentId: newId('dep'),
        bundle: await bundleFiles(echoVersion('v1')),
      });
      await provider.activateVersion({ agentId: o.agentId, versionRef: first.versionRef });
      await provider.setSecret({ agentId: o.agentId, name: 'GREETING', value: 'hi' });
      const { versionRef } = await provider.deployVersion({
        agentId: o.agentId,
        deploymentId: o.deploymentId,
        bundle: await bundleFiles(echoVersion('v2')),
      });
      await provider.activateVersion({ agentId: o.agentId, versionRef });
      const serving = fake
        .versionsOf(script)
        .find((v) => v.id === fake.activeDeployment(script)!.versions[0]!.version_id)!;
      expect(serving.id).not.toBe(versionRef.split('/')[1]);
      expect(serving.bindings).toContainEqual(
        expect.objectContaining({
          name: TELEMETRY_KEY_BINDING,
          type: 'secret_text',
          text: testTelemetryKey(o.deploymentId).toString('hex'),
        }),
      );
      expect(serving.bindings).toContainEqual(expect.objectContaining({ name: TELEMETRY_BINDING, type: 'plain_text' }));

      const res = await provider.invoke({
        versionRef,
        deploymentId: o.deploymentId,
        body: JSON.stringify({ input: 1 }),
        sessionId: 's',
        accept: 'application/json',
        requestId: 'req_cf1',
      });
      expect(JSON.parse(await res.text())).toMatchObject({ output: { version: 'v2', greeting: 'hi' } });
      const deadline = Date.now() + 15_000;
      let ids: string[] = [];
      while (ids.length === 0 && Date.now() < deadline) {
        ids = await o.eventIds();
        if (ids.length === 0) await new Promise((r) => setTimeout(r, 100));
      }
      expect(ids).toEqual([expect.stringMatching(/^inv:[0-9a-f]{32}$/)]);
    } finally {
      await provider.close();
      await fake.close();
      await server.close();
      await api.close();
      await store.close();
    }
  });
});
