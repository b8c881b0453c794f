import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rollbackAgent } from '../../api/orchestrate.js';
import { CreatedWebhookEndpoint, WebhookPayload, type WebhookEventType } from '../../lib/contracts/index.js';
import { newId } from '../../lib/ids.js';
import { AgentIdKey, DeploymentIdKey, OwnerIdKey, WorkflowKindKey } from '../../lib/temporal/search-attributes.js';
import { verifyWebhook } from '../../lib/webhooks/signing.js';
import { apiUnderTest } from '../../test/helpers/api.js';
import { deployLive, startDeploy, startDeployEnv, type DeployEnv } from '../../test/helpers/deploy-env.js';
import { echoVersion, UNHEALTHY_AGENT } from '../../test/helpers/fixtures.js';
import { replayAndRecord } from '../../test/helpers/temporal.js';
import { pino } from 'pino';
import { WEBHOOK_DELIVERY_WORKFLOW_KIND, webhookDeliveryWorkflowId } from './config.js';
import { webhookProgressQuery } from './messages.js';
import type { webhookDeliveryWorkflow } from './workflow.js';

// Deploy events reach a real receiver on loopback through the real workflows on the dev
// server: the endpoint is registered through the api (whose secret is what the worker signs
// with), the receiver checks each signature and timestamp, and the deliveries' attempts are
// read back from the store.

let env: DeployEnv;
let api: Awaited<ReturnType<typeof apiUnderTest>>;
let receiver: Receiver;
beforeAll(async () => {
  env = await startDeployEnv();
  api = await apiUnderTest(env.store, env.workflows, { webhookUrlPolicy: { allowLoopback: true } });
  receiver = await startReceiver();
});
afterAll(async () => {
  await receiver?.close();
  await api?.close();
  await env?.close();
});

interface Received {
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
  at: Date;
}

interface Receiver {
  url: string;
  /** What to answer on a path: the status for the n-th request (from 1). */
  answer: Map<string, (n: number) => number>;
  received: Received[];
  close(): Promise<void>;
}

async function startReceiver(): Promise<Receiver> {
  const answer = new Map<string, (n: number) => number>();
  const received: Received[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const path = req.url ?? '/';
      received.push({ path, headers: req.headers, body: Buffer.concat(chunks).toString('utf8'), at: new Date() });
      const n = received.filter((r) => r.path === path).length;
      const status = answer.get(path)?.(n) ?? 404;
      res.writeHead(status, { 'content-type': 'text/plain' }).end(status < 300 ? 'ok' : 'gone away, do not call again');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    answer,
    received,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

async function ownerWithAgent() {
  const ownerId = newId('usr');
  const token = await api.token(ownerId);
  await env.store.ensureUser(ownerId, new Date());
  const agent = await env.store.createAgent({
    id: newId('agt'),
    ownerId,
    name: 'hooked',
    runtime: 'local',
    now: new Date(),
  });
  return { ownerId, token, agentId: agent.id };
}

async function register(token: string, path: string, events: WebhookEventType[]) {
  const res = await api.call('POST', '/v1/webhooks', { token, body: { url: `${receiver.url}${path}`, events } });
  expect(res.status).toBe(201);
  return CreatedWebhookEndpoint.parse(await res.json());
}

/** The endpoint's one delivery, once its workflow has ended. */
async function onlyDelivery(ownerId: string, endpointId: string) {
  await expect
    .poll(async () => (await env.store.listWebhookDeliveries(ownerId, endpointId, { limit: 10 })).items.length, {
      timeout: 10_000,
    })
    .toBe(1);
  const [delivery] = (await env.store.listWebhookDeliveries(ownerId, endpointId, { limit: 10 })).items;
  const handle = env.client.workflow.getHandle<typeof webhookDeliveryWorkflow>(webhookDeliveryWorkflowId(delivery!.id));
  const result = await handle.result();
  const [after] = (await env.store.listWebhookDeliveries(ownerId, endpointId, { limit: 10 })).items;
  return { delivery: after!, result, handle };
}

/** Every request on a path, each checked the way a receiver would check it. */
function verified(path: string, secret: string) {
  return receiver.received
    .filter((r) => r.path === path)
    .map((r) => {
      const payload = WebhookPayload.parse(
        verifyWebhook(secret, r.headers as Record<string, string>, r.body, { now: r.at }),
      );
      return { ...r, payload, timestamp: Number(r.headers['webhook-timestamp']) };
    });
}

describe('webhook deliveries', () => {
  it('retries a receiver that answers 503 twice, then succeeds on the third attempt, each signed', async () => {
    const { ownerId, token, agentId } = await ownerWithAgent();
    receiver.answer.set('/flaky', (n) => (n <= 2 ? 503 : 204));
    const endpoint = await register(token, '/flaky', ['deployment.live', 'deployment.failed']);
    const started = Date.now();
    const deployed = await deployLive(env, ownerId, agentId, echoVersion('v1'));

    const { delivery, result, handle } = await onlyDelivery(ownerId, endpoint.id);
    console.log(`webhook delivered after 3 attempts, ${Date.now() - started} ms from deploy start`);
    expect(result).toEqual({ deliveryId: delivery.id, status: 'succeeded' });
    expect(delivery).toMatchObject({
      eventType: 'deployment.live',
      agentId,
      deploymentId: deployed.deploymentId,
      status: 'succeeded',
      attempts: 3,
      lastResponseStatus: 204,
      lastError: null,
      finishedAt: expect.any(String),
    });

    const requests = verified('/flaky', endpoint.secret);
    expect(requests).toHaveLength(3);
    // one message: the same id and body every time, signed afresh at each attempt
    expect(new Set(requests.map((r) => r.headers['webhook-id']))).toEqual(new Set([delivery.id]));
    expect(new Set(requests.map((r) => r.body)).size).toBe(1);
    expect(requests[0]!.payload).toEqual({
      type: 'deployment.live',
      id: delivery.eventId,
      createdAt: expect.any(String),
      data: { agentId, deploymentId: deployed.deploymentId, runtime: 'local' },
    });
    // signed when sent: the timestamp is the attempt's (to the second, with room for a loaded machine)
    for (const r of requests) expect(Math.abs(r.timestamp * 1000 - r.at.getTime())).toBeLessThan(5000);
    // backoff: the attempts are spread out, not sent back to back
    expect(requests[2]!.at.getTime() - requests[0]!.at.getTime()).toBeGreaterThanOrEqual(150);
    // a forged signature fails the receiver's check
    expect(() =>
      verifyWebhook(
        `whsec_${Buffer.alloc(32, 1).toString('base64')}`,
        requests[0]!.headers as Record<string, string>,
        requests[0]!.body,
        {
          now: requests[0]!.at,
        },
      ),
    ).toThrow(/no signature matches/);

    const description = await handle.describe();
    expect(description.typedSearchAttributes.get(WorkflowKindKey)).toBe(WEBHOOK_DELIVERY_WORKFLOW_KIND);
    expect(description.typedSearchAttributes.get(OwnerIdKey)).toBe(ownerId);
    expect(description.typedSearchAttributes.get(AgentIdKey)).toBe(agentId);
    expect(description.typedSearchAttributes.get(DeploymentIdKey)).toBe(deployed.deploymentId);
    expect(await handle.query(webhookProgressQuery)).toEqual({ deliveryId: delivery.id, state: 'succeeded' });
    // the secret is nowhere in the delivery's history
    expect(JSON.stringify(await handle.fetchHistory())).not.toContain(endpoint.secret.slice(6));
    await replayAndRecord(handle, import.meta.dirname, 'webhook-delivered.json');
    const deploy = env.client.workflow.getHandle(`deploy-${deployed.deploymentId}`);
    await replayAndRecord(deploy, join(import.meta.dirname, '../deploy'), 'deploy-live-webhook.json');

    // and the api shows it
    const res = await api.call('GET', `/v1/webhooks/${endpoint.id}/deliveries`, { token });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ items: [delivery], nextCursor: null });
  });

  it('gives up at once on a receiver that answers 410, after a failed deploy', async () => {
    const { ownerId, token, agentId } = await ownerWithAgent();
    receiver.answer.set('/gone', () => 410);
    const endpoint = await register(token, '/gone', ['deployment.failed']);
    const failed = await startDeploy(env, ownerId, agentId, UNHEALTHY_AGENT);
    await failed.handle.result().catch(() => undefined);

    const { delivery, result, handle } = await onlyDelivery(ownerId, endpoint.id);
    expect(result).toMatchObject({ deliveryId: delivery.id, status: 'failed' });
    expect(delivery).toMatchObject({
      eventType: 'deployment.failed',
      deploymentId: failed.deploymentId,
      status: 'failed',
      attempts: 1,
      lastResponseStatus: 410,
      lastError: 'HTTP 410: gone away, do not call again',
    });
    const [request] = verified('/gone', endpoint.secret);
    expect(request!.payload).toMatchObject({
      type: 'deployment.failed',
      data: {
        agentId,
        deploymentId: failed.deploymentId,
        step: 'health_check',
        error: { code: 'HealthCheckFailed' },
      },
    });
    expect(verified('/gone', endpoint.secret)).toHaveLength(1);
    await replayAndRecord(handle, import.meta.dirname, 'webhook-rejected.json');
    await replayAndRecord(failed.handle, join(import.meta.dirname, '../deploy'), 'deploy-failed-webhook.json');
  });

  it('sends rollback.completed, and nothing for events an endpoint did not subscribe to', async () => {
    const { ownerId, token, agentId } = await ownerWithAgent();
    receiver.answer.set('/rollbacks', () => 200);
    const endpoint = await register(token, '/rollbacks', ['rollback.completed']);
    const v1 = await deployLive(env, ownerId, agentId, echoVersion('v1'));
    const v2 = await deployLive(env, ownerId, agentId, echoVersion('v2'));
    const { workflowId } = await rollbackAgent(
      { store: env.store, workflows: env.workflows, deployableRuntimes: ['local'], log: pino({ level: 'silent' }) },
      { ownerId, agentId, deploymentId: v1.deploymentId, actor: `user:${ownerId}` },
    );
    const rollback = env.client.workflow.getHandle(workflowId);
    await rollback.result();

    const { delivery, result } = await onlyDelivery(ownerId, endpoint.id);
    expect(result).toEqual({ deliveryId: delivery.id, status: 'succeeded' });
    expect(delivery).toMatchObject({ eventType: 'rollback.completed', deploymentId: v1.deploymentId, attempts: 1 });
    const [request] = verified('/rollbacks', endpoint.secret);
    expect(request!.payload).toMatchObject({
      type: 'rollback.completed',
      data: { agentId, deploymentId: v1.deploymentId, previousDeploymentId: v2.deploymentId },
    });
    await replayAndRecord(rollback, join(import.meta.dirname, '../rollback'), 'rollback-webhook.json');
  });
});
