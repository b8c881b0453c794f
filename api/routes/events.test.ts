import { EventSourceParserStream } from 'eventsource-parser/stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Agent, Deployment } from '../../lib/contracts/index.js';
import { apiUnderTest } from '../../test/helpers/api.js';
import { startDeployEnv, type DeployEnv } from '../../test/helpers/deploy-env.js';
import { echoVersion } from '../../test/helpers/fixtures.js';
import { expectError } from '../../test/helpers/http.js';

// GET /v1/events: live updates while a real deploy runs.

let env: DeployEnv;
let api: Awaited<ReturnType<typeof apiUnderTest>>;

beforeAll(async () => {
  env = await startDeployEnv();
  api = await apiUnderTest(env.store, env.workflows);
});
afterAll(async () => {
  await api?.close();
  await env?.close();
});

async function createAgent(token: string, name: string) {
  return (await (await api.call('POST', '/v1/agents', { token, body: { name, runtime: 'local' } })).json()) as Agent;
}

/** Opens the stream and collects its events until `until` of them are `change`s. */
async function follow(token: string, until: number) {
  const res = await api.app.request('/v1/events', { headers: { authorization: `Bearer ${token}` } });
  expect(res.headers.get('content-type')).toContain('text/event-stream');
  const events: { event?: string; data: string }[] = [];
  const done = (async () => {
    for await (const ev of res.body!.pipeThrough(new TextDecoderStream()).pipeThrough(new EventSourceParserStream())) {
      events.push(ev);
      if (events.filter((e) => e.event === 'change').length === until) break;
    }
  })();
  await expect.poll(() => events.map((e) => e.event)).toEqual(['ready']);
  return { events, done };
}

describe('events: happy', () => {
  it('streams changes to the caller’s agents and deployments as a deploy runs', async () => {
    const viewer = await api.token('viewer');
    const { events, done } = await follow(viewer, 3);
    const agent = await createAgent(viewer, 'watched');
    const started = await api.call('POST', `/v1/agents/${agent.id}/deployments`, {
      token: viewer,
      body: { source: echoVersion('v1') },
    });
    const { deploymentId } = (await started.json()) as { deploymentId: string };
    await done;
    expect(events.filter((e) => e.event === 'change').map((e) => JSON.parse(e.data))).toEqual([
      { kind: 'agent', id: agent.id },
      { kind: 'deployment', id: deploymentId },
      { kind: 'deployment', id: deploymentId },
    ]);
    await expect
      .poll(
        async () =>
          ((await (await api.call('GET', `/v1/deployments/${deploymentId}`, { token: viewer })).json()) as Deployment)
            .status,
        { timeout: 20_000 },
      )
      .toBe('live');
  });
});

describe('events: errors', () => {
  it('answers a missing route under it in the envelope', async () => {
    const viewer = await api.token('viewer');
    await expectError(await api.call('POST', '/v1/events', { token: viewer, body: {} }), 404, 'not_found');
  });
});

describe('events: security', () => {
  it('needs a valid token', async () => {
    await expectError(await api.call('GET', '/v1/events'), 401, 'unauthorized');
    await expectError(await api.call('GET', '/v1/events', { token: 'forged.token.here' }), 401, 'unauthorized');
  });

  it('never shows another owner’s changes', async () => {
    const watcher = await api.token('watcher');
    const other = await api.token('other');
    const { events, done } = await follow(watcher, 1);
    await createAgent(other, 'theirs');
    const mine = await createAgent(watcher, 'mine');
    await done;
    expect(events.filter((e) => e.event === 'change').map((e) => JSON.parse(e.data))).toEqual([
      { kind: 'agent', id: mine.id },
    ]);
  });
});
