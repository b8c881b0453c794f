import { Client, Connection } from '@temporalio/client';
import { EventSourceParserStream } from 'eventsource-parser/stream';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Agent, Deployment, Page } from '../lib/contracts/index.js';
import { echoVersion } from '../test/helpers/fixtures.js';
import { localAuth } from '../test/helpers/auth.js';
import { startDeployEnv, type DeployEnv } from '../test/helpers/deploy-env.js';
import { client, expectError } from '../test/helpers/http.js';
import { createApiApp } from './app.js';
import { ChangeFeed } from './change-feed.js';
import { temporalWorkflowGateway } from './workflows.js';

const log = pino({ level: 'silent' });
const auth = localAuth();
let env: DeployEnv;
let changes: ChangeFeed;
let app: ReturnType<typeof createApiApp>;
let call: ReturnType<typeof client>;
let alice: string;
let bob: string;

beforeAll(async () => {
  env = await startDeployEnv();
  changes = new ChangeFeed(env.store);
  await changes.start();
  app = createApiApp({ store: env.store, authenticate: auth.authenticate, workflows: env.workflows, deployableRuntimes: ['local'], log, changes });
  call = client(app);
  alice = await auth.token('alice');
  bob = await auth.token('bob');
});
afterAll(async () => {
  await changes?.close();
  await env?.close();
});

let n = 0;
const uniqueName = () => `agent-${Date.now().toString(36)}-${n++}`;
async function createAgent(token = alice, body: Record<string, unknown> = {}) {
  const res = await call('POST', '/v1/agents', { token, body: { name: uniqueName(), runtime: 'local', ...body } });
  expect(res.status).toBe(201);
  return (await res.json()) as Agent;
}
async function waitForStatus(token: string, deploymentId: string, statuses: string[]) {
  let last: Deployment & { currentStep: string | null };
  await expect
    .poll(async () => {
      last = (await (await call('GET', `/v1/deployments/${deploymentId}`, { token })).json()) as typeof last;
      return statuses.includes(last.status);
    }, { timeout: 20_000, interval: 100 })
    .toBe(true);
  return last!;
}

describe('security', () => {
  it('requires a valid bearer token on every route', async () => {
    const agent = await createAgent();
    const routes: [string, string][] = [
      ['GET', '/v1/agents'],
      ['POST', '/v1/agents'],
      ['GET', `/v1/agents/${agent.id}`],
      ['PATCH', `/v1/agents/${agent.id}`],
      ['DELETE', `/v1/agents/${agent.id}`],
      ['GET', `/v1/agents/${agent.id}/deployments`],
      ['POST', `/v1/agents/${agent.id}/deployments`],
      ['GET', '/v1/deployments/dep_x'],
      ['GET', '/v1/events'],
    ];
    for (const [method, path] of routes) {
      await expectError(await call(method, path, { body: {} }), 401, 'unauthorized');
      await expectError(await call(method, path, { body: {}, token: 'forged.token.here' }), 401, 'unauthorized');
    }
    expect((await call('GET', `/v1/agents/${agent.id}`, { token: alice })).status).toBe(200);
  });

  it('answers 404 for another owner’s agent and deployments, and changes nothing', async () => {
    const agent = await createAgent();
    const dep = await call('POST', `/v1/agents/${agent.id}/deployments`, { token: alice, body: { source: echoVersion('v1') } });
    const { deploymentId } = (await dep.json()) as { deploymentId: string };
    await expectError(await call('GET', `/v1/agents/${agent.id}`, { token: bob }), 404, 'not_found');
    await expectError(await call('PATCH', `/v1/agents/${agent.id}`, { token: bob, body: { name: 'stolen' } }), 404, 'not_found');
    await expectError(await call('DELETE', `/v1/agents/${agent.id}`, { token: bob }), 404, 'not_found');
    await expectError(await call('GET', `/v1/agents/${agent.id}/deployments`, { token: bob }), 404, 'not_found');
    await expectError(await call('POST', `/v1/agents/${agent.id}/deployments`, { token: bob, body: { source: echoVersion('evil') } }), 404, 'not_found');
    await expectError(await call('GET', `/v1/deployments/${deploymentId}`, { token: bob }), 404, 'not_found');
    expect(((await (await call('GET', '/v1/agents', { token: bob })).json()) as Page<Agent>).items.map((a) => a.id)).not.toContain(agent.id);
    const mine = (await (await call('GET', `/v1/agents/${agent.id}`, { token: alice })).json()) as Agent;
    expect(mine.name).toBe(agent.name);
    await waitForStatus(alice, deploymentId, ['live']);
  });
});

describe('agents', () => {
  it('creates, reads, lists, renames and deletes an agent', async () => {
    const name = uniqueName();
    const created = await call('POST', '/v1/agents', { token: alice, body: { name, runtime: 'local' } });
    expect(created.status).toBe(201);
    const agent = (await created.json()) as Agent;
    expect(agent).toMatchObject({ name, runtime: 'local', status: 'active', activeDeploymentId: null, ownerId: 'alice' });
    expect(agent.id).toMatch(/^agt_/);

    expect(await (await call('GET', `/v1/agents/${agent.id}`, { token: alice })).json()).toEqual(agent);
    const renamed = (await (await call('PATCH', `/v1/agents/${agent.id}`, { token: alice, body: { name: `${name}-2` } })).json()) as Agent;
    expect(renamed.name).toBe(`${name}-2`);
    const deleted = await call('DELETE', `/v1/agents/${agent.id}`, { token: alice });
    expect(((await deleted.json()) as Agent).status).toBe('deleted');
    await expectError(await call('GET', `/v1/agents/${agent.id}`, { token: alice }), 404, 'not_found');
  });

  it('pages the list with a cursor', async () => {
    const user = await auth.token('pager');
    for (let i = 0; i < 3; i++) await createAgent(user);
    const first = (await (await call('GET', '/v1/agents?limit=2', { token: user })).json()) as Page<Agent>;
    expect(first.items).toHaveLength(2);
    const second = (await (await call('GET', `/v1/agents?limit=2&cursor=${first.nextCursor}`, { token: user })).json()) as Page<Agent>;
    expect(second.items).toHaveLength(1);
    expect(second.nextCursor).toBeNull();
    await expectError(await call('GET', '/v1/agents?limit=0', { token: user }), 400, 'validation_failed');
    await expectError(await call('GET', '/v1/agents?cursor=nonsense', { token: user }), 400, 'validation_failed');
  });

  it('refuses bad input with the error envelope and creates nothing', async () => {
    const user = await auth.token('careless');
    const bad = [
      { rawBody: '{"name": "x",', why: 'malformed JSON' },
      { body: { name: 'ok-name', runtime: 'mars' }, why: 'unknown runtime' },
      { body: { name: 42 }, why: 'wrong type' },
      { body: { name: 'Not A Label!' }, why: 'invalid name' },
      { body: { name: 'ok-name', extra: true }, why: 'unknown field' },
      { rawBody: 'name=x', headers: { 'content-type': 'application/x-www-form-urlencoded' }, why: 'not JSON' },
    ];
    for (const b of bad) {
      const err = await expectError(await call('POST', '/v1/agents', { token: user, ...b }), 400, 'validation_failed');
      expect(err.message, b.why).toBeTruthy();
    }
    expect(((await (await call('GET', '/v1/agents', { token: user })).json()) as Page<Agent>).items).toEqual([]);
    await expectError(await call('GET', '/v1/agents/agt_does_not_exist', { token: user }), 404, 'not_found');
    await expectError(await call('GET', '/v1/agents/bad%20id', { token: user }), 400, 'validation_failed');
    await expectError(await call('GET', '/v1/nothing-here', { token: user }), 404, 'not_found');
  });

  it('refuses a duplicate name with 409', async () => {
    const agent = await createAgent();
    await expectError(await call('POST', '/v1/agents', { token: alice, body: { name: agent.name } }), 409, 'conflict');
  });

  it('replays the first answer for a repeated Idempotency-Key, and refuses the key for another request', async () => {
    const user = await auth.token('retrier');
    const body = { name: uniqueName(), runtime: 'local' };
    const first = await call('POST', '/v1/agents', { token: user, body, headers: { 'idempotency-key': 'create-1' } });
    const again = await call('POST', '/v1/agents', { token: user, body, headers: { 'idempotency-key': 'create-1' } });
    expect(first.status).toBe(201);
    expect(again.status).toBe(201);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(await again.json()).toEqual(await first.json());
    expect(((await (await call('GET', '/v1/agents', { token: user })).json()) as Page<Agent>).items).toHaveLength(1);
    await expectError(await call('POST', '/v1/agents', { token: user, body: { name: uniqueName() }, headers: { 'idempotency-key': 'create-1' } }), 409, 'conflict');
  });
});

describe('deployments', () => {
  it('starts the deploy workflow (202), reports progress, and lists the deployment', async () => {
    const agent = await createAgent();
    const res = await call('POST', `/v1/agents/${agent.id}/deployments`, { token: alice, body: { source: echoVersion('v1') } });
    expect(res.status).toBe(202);
    const started = (await res.json()) as { deploymentId: string; workflowId: string; status: string; version: number };
    expect(started).toMatchObject({ workflowId: `deploy-${started.deploymentId}`, status: 'queued', version: 1 });

    const live = await waitForStatus(alice, started.deploymentId, ['live', 'failed']);
    expect(live).toMatchObject({ status: 'live', currentStep: null, agentId: agent.id, version: 1 });
    expect(live.steps.at(-1)).toMatchObject({ step: 'mark_live', status: 'succeeded' });
    expect(((await (await call('GET', `/v1/agents/${agent.id}`, { token: alice })).json()) as Agent).activeDeploymentId).toBe(started.deploymentId);
    const list = (await (await call('GET', `/v1/agents/${agent.id}/deployments`, { token: alice })).json()) as Page<Deployment>;
    expect(list.items.map((d) => d.id)).toEqual([started.deploymentId]);
  });

  it('refuses a second deploy while one is in flight (409), and accepts one after', async () => {
    const agent = await createAgent();
    const first = await call('POST', `/v1/agents/${agent.id}/deployments`, { token: alice, body: { source: echoVersion('v1') } });
    expect(first.status).toBe(202);
    await expectError(await call('POST', `/v1/agents/${agent.id}/deployments`, { token: alice, body: { source: echoVersion('v2') } }), 409, 'conflict');
    await waitForStatus(alice, ((await first.json()) as { deploymentId: string }).deploymentId, ['live']);
    expect((await call('POST', `/v1/agents/${agent.id}/deployments`, { token: alice, body: { source: echoVersion('v2') } })).status).toBe(202);
  });

  it('starts one deployment for a repeated Idempotency-Key', async () => {
    const agent = await createAgent();
    const send = () => call('POST', `/v1/agents/${agent.id}/deployments`, { token: alice, body: { source: echoVersion('v1') }, headers: { 'idempotency-key': `dep-${agent.id}` } });
    const a = (await (await send()).json()) as { deploymentId: string };
    const b = (await (await send()).json()) as { deploymentId: string };
    expect(b.deploymentId).toBe(a.deploymentId);
    const list = (await (await call('GET', `/v1/agents/${agent.id}/deployments`, { token: alice })).json()) as Page<Deployment>;
    expect(list.items).toHaveLength(1);
  });

  it('refuses bad sources with the error envelope and creates no deployment', async () => {
    const agent = await createAgent();
    const bad = [
      { source: { type: 'files', entry: 'main.js', files: { 'index.js': 'export default {}' } } },
      { source: { type: 'files', entry: 'index.js', files: {} } },
      { source: { type: 'files', entry: '../etc/passwd', files: { '../etc/passwd': 'x' } } },
      { source: { type: 'git', url: 'file:///tmp/x' } },
      { source: { type: 'files', entry: 'index.js', files: { 'index.js': 42 } } },
    ];
    for (const body of bad) await expectError(await call('POST', `/v1/agents/${agent.id}/deployments`, { token: alice, body }), 400, 'validation_failed');
    const missingEntry = await expectError(await call('POST', `/v1/agents/${agent.id}/deployments`, { token: alice, body: bad[0] }), 400, 'validation_failed');
    expect(missingEntry.message).toContain('entry "main.js" is not one of the files');
    expect(((await (await call('GET', `/v1/agents/${agent.id}/deployments`, { token: alice })).json()) as Page<Deployment>).items).toEqual([]);
  });

  it('refuses a deploy to a runtime this platform has no provider for', async () => {
    const agent = await createAgent(alice, { runtime: 'cloudflare' });
    await expectError(await call('POST', `/v1/agents/${agent.id}/deployments`, { token: alice, body: { source: echoVersion('v1') } }), 503, 'runtime_unavailable');
    expect(((await (await call('GET', `/v1/agents/${agent.id}/deployments`, { token: alice })).json()) as Page<Deployment>).items).toEqual([]);
  });

  it('when Temporal cannot be reached, answers 500 and frees the agent for the next deploy', async () => {
    const connection = Connection.lazy({ address: '127.0.0.1:1', connectTimeout: 500 });
    const unreachable = new Client({ connection });
    const app = createApiApp({ store: env.store, authenticate: auth.authenticate, workflows: temporalWorkflowGateway(unreachable, { startTimeoutMs: 1000 }), deployableRuntimes: ['local'], log, changes });
    const agent = await createAgent();
    const err = await expectError(await client(app)('POST', `/v1/agents/${agent.id}/deployments`, { token: alice, body: { source: echoVersion('v1') } }), 500, 'internal');
    expect(err.message).toContain('try again');
    const list = (await (await call('GET', `/v1/agents/${agent.id}/deployments`, { token: alice })).json()) as Page<Deployment>;
    expect(list.items[0]).toMatchObject({ status: 'failed', error: { code: 'WorkflowStartFailed' } });
    expect((await call('POST', `/v1/agents/${agent.id}/deployments`, { token: alice, body: { source: echoVersion('v1') } })).status).toBe(202);
  });
});

describe('live updates', () => {
  it('streams changes to the caller’s own agents and deployments, never another owner’s', async () => {
    const viewer = await auth.token('viewer');
    const res = await app.request('/v1/events', { headers: { authorization: `Bearer ${viewer}` } });
    expect(res.headers.get('content-type')).toContain('text/event-stream');
    const events: { event?: string; data: string }[] = [];
    const reading = (async () => {
      for await (const ev of res.body!.pipeThrough(new TextDecoderStream()).pipeThrough(new EventSourceParserStream())) {
        events.push(ev);
        if (events.filter((e) => e.event === 'change').length === 3) break;
      }
    })();
    await expect.poll(() => events.map((e) => e.event)).toEqual(['ready']);

    await createAgent(bob); // someone else's change: never seen
    const agent = await createAgent(viewer);
    const started = await call('POST', `/v1/agents/${agent.id}/deployments`, { token: viewer, body: { source: echoVersion('v1') } });
    const { deploymentId } = (await started.json()) as { deploymentId: string };
    await reading;
    expect(events.filter((e) => e.event === 'change').map((e) => JSON.parse(e.data))).toEqual([
      { kind: 'agent', id: agent.id },
      { kind: 'deployment', id: deploymentId },
      { kind: 'deployment', id: deploymentId },
    ]);
    await waitForStatus(viewer, deploymentId, ['live']);
  });
});
