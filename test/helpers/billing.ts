import { spawn, type ChildProcess } from 'node:child_process';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import type { MeteredRequest, Runtime } from '../../lib/contracts/index.js';
import { newId } from '../../lib/ids.js';
import type { Store } from '../../lib/store/index.js';
import { agentWithDeployment } from './fixtures.js';

/**
 * An owner with an agent, a deployment and `requests` metered requests in `period` (the
 * gateway's path: events → hourly metrics → usage), optionally on a Lemon Squeezy subscription item.
 */
export async function billingOwner(
  store: Store,
  opts: { period: string; requests: number; subscriptionItemId?: string; runtime?: Runtime; ownerId?: string },
) {
  const ownerId = opts.ownerId ?? newId('usr');
  const now = new Date();
  await store.ensureUser(ownerId, now);
  if (opts.subscriptionItemId)
    await store.setUserBilling({ userId: ownerId, billing: { subscriptionItemId: opts.subscriptionItemId }, now });
  const runtime = opts.runtime ?? 'local';
  const { agentId, deploymentId } = await agentWithDeployment(store, ownerId, { name: 'billed', runtime });
  const requests: MeteredRequest[] = Array.from({ length: opts.requests }, (_, i) => ({
    id: newId('req'),
    // spread over the period's first days, each in its own hour
    at: new Date(Date.parse(`${opts.period}-01T00:00:00.000Z`) + i * 3_600_000 + 60_000).toISOString(),
    ownerId,
    agentId,
    deploymentId,
    runtime,
    status: 200,
    durationMs: 12,
    inputBytes: 100,
    outputBytes: 200,
    inputTokens: 0,
    outputTokens: 0,
    sessionId: null,
    endUser: null,
    apiKeyId: null,
  }));
  for (let i = 0; i < requests.length; i += 1000) await store.recordRequests(requests.slice(i, i + 1000));
  return { ownerId, agentId, deploymentId, subscriptionItemId: opts.subscriptionItemId ?? null };
}

/**
 * A worker process of test/helpers/billing-worker-child.ts (the real activities on PostgreSQL,
 * Lemon Squeezy routed to a fake in the calling process); resolves once it polls. Env:
 * TEMPORAL_ADDRESS, TASK_QUEUE, DATABASE_URL, LEMONSQUEEZY_FAKE_ORIGIN, LEMONSQUEEZY_API_KEY.
 */
export async function startBillingWorkerProcess(env: Record<string, string>): Promise<ChildProcess> {
  const root = resolve(import.meta.dirname, '../..');
  const child = spawn(process.execPath, ['--import', 'tsx', join(root, 'test/helpers/billing-worker-child.ts')], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, ...env },
  });
  const lines = createInterface({ input: child.stdout! });
  await new Promise<void>((ready, failed) => {
    const timer = setTimeout(() => failed(new Error('the billing worker was not ready within 60 s')), 60_000);
    lines.on('line', (l) => {
      if (l !== 'ready') return;
      clearTimeout(timer);
      ready();
    });
    child.once('exit', (code) => failed(new Error(`the billing worker exited (${code}) before it was ready`)));
  });
  return child;
}
