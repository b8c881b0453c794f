import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ApplicationFailure } from '@temporalio/activity';
import { MockActivityEnvironment } from '@temporalio/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { webhookSecrets } from '../lib/auth/platform-keys.js';
import { newId } from '../lib/ids.js';
import { openStore, type Store } from '../lib/store/index.js';
import { verifyWebhook } from '../lib/webhooks/signing.js';
import { activityRunner } from '../test/helpers/activities.js';
import { PermanentFailure, RetryableFailure } from '../workflows/failures.js';
import { createWebhookActivities } from './webhooks.js';

// The webhook activities on PGlite against a receiver on loopback: each attempt is signed with
// the endpoint's derived secret and its outcome recorded; the verdict decides how it fails.

let store: Store;
let server: Server;
let base: string;
const statuses = new Map<string, number>();
const seen: { path: string; headers: Record<string, string>; body: string }[] = [];
const secretFor = webhookSecrets(Buffer.alloc(32, 3));
let activities: ReturnType<typeof createWebhookActivities>;

beforeAll(async () => {
  store = await openStore({ kind: 'pglite', dataDir: undefined });
  activities = createWebhookActivities({
    store,
    webhooks: { secretFor, urlPolicy: { allowLoopback: true }, attemptTimeoutMs: 2000 },
  });
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      seen.push({ path: req.url!, headers: req.headers as Record<string, string>, body });
      res.writeHead(statuses.get(req.url!) ?? 200).end('nope');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise((resolve) => server?.close(resolve));
  await store?.close();
});

/** An owner with one endpoint on `path` and one recorded `deployment.live` event. */
async function pendingDelivery(path: string) {
  const ownerId = newId('usr');
  await store.ensureUser(ownerId, new Date());
  const endpoint = await store.createWebhookEndpoint({
    id: newId('whe'),
    ownerId,
    url: `${base}${path}`,
    events: ['deployment.live'],
    description: null,
    actor: 'user:x',
    maxActive: 10,
    now: new Date(),
  });
  const event = {
    ownerId,
    eventId: newId('evt'),
    type: 'deployment.live' as const,
    agentId: newId('agt'),
    deploymentId: newId('dep'),
    data: { runtime: 'local' },
    occurredAt: new Date().toISOString(),
  };
  const run = activityRunner();
  const { deliveryIds } = await run(activities.recordWebhookEvent, event);
  expect(await run(activities.recordWebhookEvent, event)).toEqual({ deliveryIds });
  return { ownerId, endpoint, event, deliveryId: deliveryIds[0]! };
}

const attempt = (n: number) => activityRunner(new MockActivityEnvironment({ attempt: n }));
const failureOf = (p: Promise<unknown>) =>
  p.then(
    () => undefined,
    (e: unknown) => e as ApplicationFailure,
  );
const deliveryOf = async (ownerId: string, endpointId: string) =>
  (await store.listWebhookDeliveries(ownerId, endpointId, { limit: 1 })).items[0]!;

describe('webhook activities', () => {
  it('sends the recorded body signed with the endpoint’s secret and records the success', async () => {
    const { ownerId, endpoint, event, deliveryId } = await pendingDelivery('/ok');
    expect(await attempt(1)(activities.deliverWebhook, { ownerId, deliveryId, maxAttempts: 3 })).toEqual({
      status: 'succeeded',
      attempts: 1,
      responseStatus: 200,
    });
    const request = seen.filter((r) => r.path === '/ok').at(-1)!;
    expect(verifyWebhook(secretFor(endpoint.id), request.headers, request.body)).toEqual({
      type: 'deployment.live',
      id: event.eventId,
      createdAt: event.occurredAt,
      data: { runtime: 'local', agentId: event.agentId, deploymentId: event.deploymentId },
    });
    expect(request.headers['webhook-id']).toBe(deliveryId);
    // final: a repeat sends nothing
    const before = seen.length;
    expect(await attempt(2)(activities.deliverWebhook, { ownerId, deliveryId, maxAttempts: 3 })).toMatchObject({
      status: 'succeeded',
    });
    expect(seen.length).toBe(before);
  });

  it('fails a 503 as retryable until the last attempt, which gives the delivery up', async () => {
    statuses.set('/busy', 503);
    const { ownerId, endpoint, deliveryId } = await pendingDelivery('/busy');
    const first = await failureOf(attempt(1)(activities.deliverWebhook, { ownerId, deliveryId, maxAttempts: 2 }));
    expect(first).toBeInstanceOf(ApplicationFailure);
    expect(first).toMatchObject({ type: RetryableFailure.WebhookAttemptFailed, nonRetryable: false });
    expect(await deliveryOf(ownerId, endpoint.id)).toMatchObject({
      status: 'pending',
      attempts: 1,
      lastResponseStatus: 503,
      lastError: 'HTTP 503: nope',
    });
    const last = await failureOf(attempt(2)(activities.deliverWebhook, { ownerId, deliveryId, maxAttempts: 2 }));
    expect(last).toMatchObject({ type: RetryableFailure.WebhookAttemptFailed, nonRetryable: true });
    expect(await deliveryOf(ownerId, endpoint.id)).toMatchObject({ status: 'failed', attempts: 2 });
  });

  it('fails a 410 for good at once, and a delivery whose endpoint was deleted', async () => {
    statuses.set('/gone', 410);
    const gone = await pendingDelivery('/gone');
    const rejected = await failureOf(
      attempt(1)(activities.deliverWebhook, { ownerId: gone.ownerId, deliveryId: gone.deliveryId, maxAttempts: 5 }),
    );
    expect(rejected).toMatchObject({ type: PermanentFailure.WebhookRejected, nonRetryable: true });
    expect(await deliveryOf(gone.ownerId, gone.endpoint.id)).toMatchObject({ status: 'failed', attempts: 1 });

    const deleted = await pendingDelivery('/ok');
    await store.deleteWebhookEndpoint({
      ownerId: deleted.ownerId,
      id: deleted.endpoint.id,
      actor: 'x',
      now: new Date(),
    });
    const missing = await failureOf(
      attempt(1)(activities.deliverWebhook, {
        ownerId: deleted.ownerId,
        deliveryId: deleted.deliveryId,
        maxAttempts: 5,
      }),
    );
    expect(missing).toMatchObject({ type: PermanentFailure.NotFound, nonRetryable: true });
  });

  it('refuses to send without webhook settings, and gives up a pending delivery with its reason', async () => {
    const { ownerId, endpoint, deliveryId } = await pendingDelivery('/ok');
    const unconfigured = createWebhookActivities({ store });
    const refused = await failureOf(attempt(1)(unconfigured.deliverWebhook, { ownerId, deliveryId, maxAttempts: 5 }));
    expect(refused).toMatchObject({ type: PermanentFailure.WebhooksNotConfigured });
    expect(
      await attempt(1)(activities.giveUpWebhookDelivery, {
        ownerId,
        deliveryId,
        reason: 'gave up: worker lost',
        now: new Date().toISOString(),
      }),
    ).toEqual({ status: 'failed' });
    expect(await deliveryOf(ownerId, endpoint.id)).toMatchObject({
      status: 'failed',
      lastError: 'gave up: worker lost',
    });
  });
});
