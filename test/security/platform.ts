import { randomBytes } from 'node:crypto';
import { expect } from 'vitest';
import type { Agent, CreatedApiKey, Deployment, FilesSource } from '../../lib/contracts/index.js';
import { echoVersion } from '../helpers/fixtures.js';
import { startPlatform, type RunningPlatform } from '../helpers/platform.js';
import { connectTestPostgres, type TestPostgres } from '../helpers/postgres.js';
import { StoreReader } from './state.js';

export interface SecurityPlatform {
  platform: RunningPlatform;
  store: StoreReader;
  /** Lemon Squeezy's webhook secret this platform was started with (the webhook route is open). */
  webhookSecret: string;
  /** Every answer body the test's own calls saw, for the canary search. */
  answers: string[];
  call<T = unknown>(
    token: string,
    method: string,
    path: string,
    body?: unknown,
    service?: 'api' | 'gateway',
  ): Promise<{ status: number; body: T; text: string }>;
  deploy(token: string, agentId: string, source: FilesSource): Promise<Deployment>;
  stop(): Promise<void>;
}

/**
 * The embedded platform as `npm start` runs it, but on a throwaway PostgreSQL database so the
 * test can read every table while it runs; Lemon Squeezy's webhook route open with a secret.
 * Null (with the reason printed) when PostgreSQL does not answer outside CI.
 */
export async function startSecurityPlatform(
  what: string,
  env: Record<string, string> = {},
): Promise<SecurityPlatform | null> {
  const server: TestPostgres | null = await connectTestPostgres(what);
  if (!server) return null;
  const databaseUrl = await server.createDatabase('webhost_sec');
  const webhookSecret = randomBytes(16).toString('hex');
  let platform: RunningPlatform;
  try {
    platform = await startPlatform({
      env: { DATABASE_URL: databaseUrl, LEMONSQUEEZY_WEBHOOK_SECRET: webhookSecret, ...env },
    });
  } catch (err) {
    await server.close();
    throw err;
  }
  const store = await StoreReader.connect(databaseUrl);
  const answers: string[] = [];

  const call: SecurityPlatform['call'] = async (token, method, path, body, service = 'api') => {
    const base = service === 'api' ? platform.apiUrl : platform.gatewayUrl;
    const res = await fetch(`${base}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: body === undefined ? null : JSON.stringify(body),
      signal: AbortSignal.timeout(30_000),
    });
    const text = await res.text();
    answers.push(text);
    return { status: res.status, text, body: (text ? JSON.parse(text) : null) as never };
  };

  return {
    platform,
    store,
    webhookSecret,
    answers,
    call,
    async deploy(token, agentId, source) {
      const res = await call<{ deploymentId: string }>(token, 'POST', `/v1/agents/${agentId}/deployments`, { source });
      expect(res.status, res.text).toBe(202);
      const deadline = Date.now() + 90_000;
      for (;;) {
        const deployment = (await call<Deployment>(token, 'GET', `/v1/deployments/${res.body.deploymentId}`)).body;
        if (['live', 'failed', 'canceled'].includes(deployment.status)) return deployment;
        if (Date.now() > deadline) throw new Error(`deployment still ${deployment.status} after 90 s`);
        await new Promise((r) => setTimeout(r, 200));
      }
    },
    async stop() {
      await store.close().catch(() => {});
      await platform.stop();
      await server.close();
    },
  };
}

/** What user A owns, for other callers to address: a live agent, a secret, a live API key, a revoked one. */
export interface Owned {
  userId: string;
  token: string;
  agent: Agent;
  deployment: Deployment;
  secretName: string;
  apiKey: CreatedApiKey;
  revokedKey: CreatedApiKey;
  /** A webhook endpoint, disabled so that nothing is ever delivered (no background change). */
  webhook: { id: string; secret: string };
}

export async function seedOwner(sec: SecurityPlatform, userId: string): Promise<Owned> {
  const token = await sec.platform.token(userId);
  const created = await sec.call<Agent>(token, 'POST', '/v1/agents', { name: `${userId}-agent`, runtime: 'local' });
  expect(created.status, created.text).toBe(201);
  const agent = created.body;
  const deployment = await sec.deploy(token, agent.id, echoVersion('v1'));
  expect(deployment.status).toBe('live');
  const secretName = 'OWNED_SECRET';
  const secret = await sec.call(token, 'PUT', `/v1/agents/${agent.id}/secrets/${secretName}`, {
    value: 'not-a-canary',
  });
  expect(secret.status, secret.text).toBe(200);
  const key = await sec.call<CreatedApiKey>(token, 'POST', '/v1/api-keys', { name: 'live key' });
  expect(key.status, key.text).toBe(201);
  const revoked = await sec.call<CreatedApiKey>(token, 'POST', '/v1/api-keys', { name: 'revoked key' });
  expect(revoked.status, revoked.text).toBe(201);
  const revoke = await sec.call(token, 'DELETE', `/v1/api-keys/${revoked.body.id}`);
  expect(revoke.status, revoke.text).toBeLessThan(300);
  const webhook = await sec.call<{ id: string; secret: string }>(token, 'POST', '/v1/webhooks', {
    url: 'https://example.com/webhost-hook',
    events: ['deployment.live'],
  });
  expect(webhook.status, webhook.text).toBe(201);
  const disabled = await sec.call(token, 'PATCH', `/v1/webhooks/${webhook.body.id}`, { disabled: true });
  expect(disabled.status, disabled.text).toBe(200);
  return {
    userId,
    token,
    agent,
    deployment,
    secretName,
    apiKey: key.body,
    revokedKey: revoked.body,
    webhook: webhook.body,
  };
}

/**
 * Waits until the store holds still (two snapshots a second apart are equal): deploys,
 * secret workflows, the shim's first telemetry and the change feed have settled.
 */
export async function settled(store: StoreReader, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  let before = JSON.stringify(await store.snapshot());
  for (;;) {
    await new Promise((r) => setTimeout(r, 1000));
    const now = JSON.stringify(await store.snapshot());
    if (now === before) return JSON.parse(now) as Awaited<ReturnType<StoreReader['snapshot']>>;
    if (Date.now() > deadline) throw new Error(`the store kept changing for ${timeoutMs} ms`);
    before = now;
  }
}
