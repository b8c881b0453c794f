import { Client, Connection } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newId } from '../../lib/ids.js';
import type { Agent, Deployment, Page } from '../../lib/contracts/index.js';
import { apiUnderTest } from '../../test/helpers/api.js';
import { startDeployEnv, type DeployEnv } from '../../test/helpers/deploy-env.js';
import { agentSource, echoVersion } from '../../test/helpers/fixtures.js';
import { client, expectError } from '../../test/helpers/http.js';
import { deployWorkflowId } from '../../workflows/deploy/config.js';
import { DeploymentErrorCode } from '../../workflows/failures.js';
import { createApiApp } from '../app.js';
import { temporalWorkflows } from '../temporal.js';

// Deployments start real deploy workflows on the run's Temporal dev server and real workerd.

let env: DeployEnv;
let api: Awaited<ReturnType<typeof apiUnderTest>>;
let alice: string;
let bob: string;

beforeAll(async () => {
  env = await startDeployEnv();
  api = await apiUnderTest(env.store, env.workflows);
  alice = await api.token('alice');
  bob = await api.token('bob');
});
afterAll(async () => {
  await api?.close();
  await env?.close();
});

let n = 0;
async function createAgent(token = alice, body: Record<string, unknown> = {}) {
  const res = await api.call('POST', '/v1/agents', {
    token,
    body: { name: `agent-${Date.now().toString(36)}-${n++}`, runtime: 'local', ...body },
  });
  expect(res.status).toBe(201);
  return (await res.json()) as Agent;
}
const deploy = (
  agentId: string,
  body: unknown = { source: echoVersion('v1') },
  token = alice,
  headers?: Record<string, string>,
) => api.call('POST', `/v1/agents/${agentId}/deployments`, { token, body, ...(headers ? { headers } : {}) });
const listDeployments = async (agentId: string, token = alice) =>
  (await (await api.call('GET', `/v1/agents/${agentId}/deployments`, { token })).json()) as Page<Deployment>;
async function waitForStatus(token: string, deploymentId: string, statuses: string[]) {
  let last: Deployment & { currentStep: string | null };
  await expect
    .poll(
      async () => {
        last = (await (await api.call('GET', `/v1/deployments/${deploymentId}`, { token })).json()) as typeof last;
        return statuses.includes(last.status);
      },
      { timeout: 20_000, interval: 100 },
    )
    .toBe(true);
  return last!;
}

describe('deployments: happy', () => {
  it('starts the deploy workflow (202), reports progress, and lists the deployment', async () => {
    const agent = await createAgent();
    const res = await deploy(agent.id);
    expect(res.status).toBe(202);
    const started = (await res.json()) as { deploymentId: string; workflowId: string; status: string; version: number };
    expect(started).toMatchObject({ workflowId: deployWorkflowId(started.deploymentId), status: 'queued', version: 1 });

    const live = await waitForStatus(alice, started.deploymentId, ['live', 'failed']);
    expect(live).toMatchObject({ status: 'live', currentStep: null, agentId: agent.id, version: 1 });
    expect(live.steps.at(-1)).toMatchObject({ step: 'mark_live', status: 'succeeded' });
    expect(
      ((await (await api.call('GET', `/v1/agents/${agent.id}`, { token: alice })).json()) as Agent).activeDeploymentId,
    ).toBe(started.deploymentId);
    expect((await listDeployments(agent.id)).items.map((d) => d.id)).toEqual([started.deploymentId]);
  });

  it('starts one deployment for a repeated Idempotency-Key', async () => {
    const agent = await createAgent();
    const headers = { 'idempotency-key': `dep-${agent.id}` };
    const a = (await (await deploy(agent.id, undefined, alice, headers)).json()) as { deploymentId: string };
    const b = (await (await deploy(agent.id, undefined, alice, headers)).json()) as { deploymentId: string };
    expect(b.deploymentId).toBe(a.deploymentId);
    expect((await listDeployments(agent.id)).items).toHaveLength(1);
    await waitForStatus(alice, a.deploymentId, ['live']);
  });

  it('accepts a second deploy once the first has finished', async () => {
    const agent = await createAgent();
    const first = (await (await deploy(agent.id)).json()) as { deploymentId: string };
    await waitForStatus(alice, first.deploymentId, ['live']);
    const second = await deploy(agent.id, { source: echoVersion('v2') });
    expect(second.status).toBe(202);
    expect(((await second.json()) as { version: number }).version).toBe(2);
  });
});

describe('deployments: errors', () => {
  it('refuses a second deploy while one is in flight (409)', async () => {
    const agent = await createAgent();
    const first = await deploy(agent.id);
    expect(first.status).toBe(202);
    await expectError(await deploy(agent.id, { source: echoVersion('v2') }), 409, 'conflict');
    await waitForStatus(alice, ((await first.json()) as { deploymentId: string }).deploymentId, ['live']);
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
    for (const body of bad) await expectError(await deploy(agent.id, body), 400, 'validation_failed');
    const missingEntry = await expectError(await deploy(agent.id, bad[0]), 400, 'validation_failed');
    expect(missingEntry.message).toContain('entry "main.js" is not one of the files');
    expect((await listDeployments(agent.id)).items).toEqual([]);
  });

  it('refuses project and git sources it can judge up front, saying why, and creates no deployment', async () => {
    const agent = await createAgent();
    const git = (url: string, ref = 'main') => ({ source: { type: 'git', url, ref } });
    const cases: [unknown, RegExp][] = [
      [
        { source: { type: 'files', files: { 'package.json': '{"name":"a"}', 'index.js': 'x' } } },
        /package\.json names no entry/,
      ],
      [
        { source: { type: 'files', files: { 'package.json': '{"main":"dist/index.js"}', 'src/index.js': 'x' } } },
        /"dist\/index\.js", is not one of the files/,
      ],
      [{ source: { type: 'files', files: { 'index.js': 'x' } } }, /no entry/],
      [
        { source: { type: 'files', files: { 'requirements.txt': 'x', 'app.py': 'x' } } },
        /only on the agentcore runtime/,
      ],
      [git('https://user:hunter2@example.com/r.git'), /credentials in git URLs are not accepted/],
      [git('ssh://git@example.com/r.git'), /must be https/],
      [git('http://example.com/r.git'), /must be https/],
      [git('file:///srv/repos/r'), /file:\/\/ git URLs are not enabled/],
      [git('https://example.com/r.git', '--upload-pack=touch /tmp/x'), /a branch, tag or commit sha/],
      [{ source: { type: 'image', uri: '123456789012.dkr.ecr.us-east-1.amazonaws.com/a:1' } }, /only to the agentcore/],
    ];
    for (const [body, message] of cases) {
      const err = await expectError(await deploy(agent.id, body), 400, 'validation_failed');
      expect(err.message).toMatch(message);
      expect(JSON.stringify(err)).not.toContain('hunter2');
    }
    expect((await listDeployments(agent.id)).items).toEqual([]);
  });

  it('refuses a deploy to a runtime this platform has no provider for, saying what to configure', async () => {
    // created while the platform had Cloudflare credentials, deployed after a restart without them
    await env.store.ensureUser('alice', new Date());
    const agent = await env.store.createAgent({
      id: newId('agt'),
      ownerId: 'alice',
      name: `cf-${n++}`,
      runtime: 'cloudflare',
      now: new Date(),
    });
    const err = await expectError(await deploy(agent.id), 503, 'runtime_unavailable');
    expect(err.message).toContain('CLOUDFLARE_API_TOKEN');
    expect((await listDeployments(agent.id)).items).toEqual([]);
  });

  it('when Temporal cannot be reached, answers 500 and frees the agent for the next deploy', async () => {
    const connection = Connection.lazy({ address: '127.0.0.1:1', connectTimeout: 500 });
    const unreachable = new Client({ connection });
    const app = createApiApp({
      store: env.store,
      authenticate: api.authenticate,
      workflows: temporalWorkflows(unreachable, { startTimeoutMs: 1000 }),
      deployableRuntimes: ['local'],
      log: api.log,
      changes: api.changes,
    });
    const agent = await createAgent();
    const err = await expectError(
      await client(app)('POST', `/v1/agents/${agent.id}/deployments`, {
        token: alice,
        body: { source: echoVersion('v1') },
      }),
      500,
      'internal',
    );
    expect(err.message).toContain('try again');
    expect((await listDeployments(agent.id)).items[0]).toMatchObject({
      status: 'failed',
      error: { code: DeploymentErrorCode.WorkflowStartFailed },
    });
    const next = await deploy(agent.id);
    expect(next.status).toBe(202);
    await waitForStatus(alice, ((await next.json()) as { deploymentId: string }).deploymentId, ['live']);
  });

  it('answers an unknown deployment id with 404 and a malformed one with 400', async () => {
    await expectError(await api.call('GET', '/v1/deployments/dep_nope', { token: alice }), 404, 'not_found');
    await expectError(
      await api.call('GET', '/v1/deployments/not%20an%20id', { token: alice }),
      400,
      'validation_failed',
    );
    await expectError(await deploy('agt_nope'), 404, 'not_found');
  });
});

describe('deployments: workflows that end without finishing', () => {
  /** /ping takes 3 s: the deploy sits in its health check long enough to be terminated there. */
  const slow = agentSource(`export default { async fetch(req) {
    if (new URL(req.url).pathname === '/ping') { await new Promise((r) => setTimeout(r, 3000)); return new Response('ok'); }
    return Response.json({ output: 'slow' });
  } }`);

  async function terminatedDeploy(agentId: string) {
    const { deploymentId, workflowId } = (await (await deploy(agentId, { source: slow })).json()) as {
      deploymentId: string;
      workflowId: string;
    };
    await expect
      .poll(
        async () =>
          (
            (await (await api.call('GET', `/v1/deployments/${deploymentId}`, { token: alice })).json()) as {
              currentStep: string;
            }
          ).currentStep,
        {
          timeout: 20_000,
          interval: 100,
        },
      )
      .toBe('health_check');
    await env.client.workflow.getHandle(workflowId).terminate('an operator ended it');
    return deploymentId;
  }

  it('marks a deployment whose workflow was terminated as failed, with the reason', async () => {
    const agent = await createAgent();
    const deploymentId = await terminatedDeploy(agent.id);
    const failed = await waitForStatus(alice, deploymentId, ['failed']);
    expect(failed.error).toMatchObject({
      code: DeploymentErrorCode.WorkflowEnded,
      message: expect.stringContaining('terminated'),
    });
    expect((await deploy(agent.id)).status).toBe(202);
  });

  it('frees the agent for the next deploy, or its delete, without anyone reading the stuck one first', async () => {
    const agent = await createAgent();
    const stuck = await terminatedDeploy(agent.id);
    const next = await deploy(agent.id, { source: echoVersion('v2') });
    expect(next.status).toBe(202);
    expect((await env.store.getDeployment('alice', stuck)).status).toBe('failed');
    const other = await createAgent();
    await terminatedDeploy(other.id);
    expect((await api.call('DELETE', `/v1/agents/${other.id}`, { token: alice })).status).toBe(202);
    await waitForStatus(alice, ((await next.json()) as { deploymentId: string }).deploymentId, ['live']);
  });
});

describe('deployments: security', () => {
  it('requires a valid bearer token on every route', async () => {
    const agent = await createAgent();
    const routes: [string, string][] = [
      ['GET', `/v1/agents/${agent.id}/deployments`],
      ['POST', `/v1/agents/${agent.id}/deployments`],
      ['GET', '/v1/deployments/dep_x'],
    ];
    for (const [method, path] of routes) {
      await expectError(await api.call(method, path, { body: {} }), 401, 'unauthorized');
      await expectError(await api.call(method, path, { body: {}, token: 'forged.token.here' }), 401, 'unauthorized');
    }
    expect((await listDeployments(agent.id)).items).toEqual([]);
  });

  it('answers 404 for another owner’s agent and deployments, and changes nothing', async () => {
    const agent = await createAgent();
    const { deploymentId } = (await (await deploy(agent.id)).json()) as { deploymentId: string };
    await expectError(await api.call('GET', `/v1/agents/${agent.id}/deployments`, { token: bob }), 404, 'not_found');
    await expectError(await deploy(agent.id, { source: echoVersion('evil') }, bob), 404, 'not_found');
    await expectError(await api.call('GET', `/v1/deployments/${deploymentId}`, { token: bob }), 404, 'not_found');
    const live = await waitForStatus(alice, deploymentId, ['live']);
    expect(live.version).toBe(1);
    expect((await listDeployments(agent.id)).items).toHaveLength(1);
  });
});
