import { EventSourceParserStream } from 'eventsource-parser/stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Agent, Deployment } from '../../lib/contracts/index.js';
import { agentSource, echoVersion, exampleSource, THROWS_AT_START_AGENT } from '../helpers/fixtures.js';
import { jsonApi, metricValue } from '../helpers/http.js';
import { startPlatform, type RunningPlatform } from '../helpers/platform.js';
import { freePort } from '../helpers/ports.js';

// The real processes — Temporal dev server (SQLite), local runtime (workerd), and the
// platform process with worker, api and gateway — driven over HTTP like a user would.

let platform: RunningPlatform;
let token: string;

let workerMetricsUrl: string;

beforeAll(async () => {
  const metricsPort = await freePort();
  workerMetricsUrl = `http://127.0.0.1:${metricsPort}/metrics`;
  platform = await startPlatform({ env: { WEBHOST_WORKER_METRICS_ADDRESS: `127.0.0.1:${metricsPort}` } });
  token = await platform.token('e2e-user');
});
afterAll(async () => platform?.stop());

const api = jsonApi(() => ({ url: platform.apiUrl, token }));

async function deploy(agentId: string, source: unknown, until: Deployment['status'][] = ['live', 'failed']) {
  const started = await api<{ deploymentId: string }>('POST', `/v1/agents/${agentId}/deployments`, { source });
  expect(started.status).toBe(202);
  let deployment: Deployment | undefined;
  await expect
    .poll(
      async () => {
        deployment = (await api<Deployment>('GET', `/v1/deployments/${started.body.deploymentId}`)).body;
        return until.includes(deployment.status);
      },
      { timeout: 60_000, interval: 200 },
    )
    .toBe(true);
  return deployment!;
}

async function invoke(agentId: string, input: unknown, stream = false) {
  return fetch(`${platform.gatewayUrl}/v1/agents/${agentId}/invoke`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ input, stream }),
  });
}

async function invokedVersion(agentId: string): Promise<string> {
  const res = await invoke(agentId, 'ping');
  expect(res.status).toBe(200);
  return ((await res.json()) as { output: { version: string } }).output.version;
}

describe('the platform, end to end', () => {
  let echo: Agent;

  it('creates an agent, deploys v1 and invokes it, deploys v2 and invokes v2', async () => {
    echo = (await api<Agent>('POST', '/v1/agents', { name: 'echo', runtime: 'local' })).body;
    const v1 = await deploy(echo.id, echoVersion('v1'));
    expect(v1.status).toBe('live');
    expect(await invokedVersion(echo.id)).toBe('v1');

    const v2 = await deploy(echo.id, echoVersion('v2'));
    expect(v2).toMatchObject({ status: 'live', version: 2 });
    expect(await invokedVersion(echo.id)).toBe('v2');
  });

  it('exposes the worker’s Temporal SDK metrics, the api’s and the gateway’s, counting what just ran', async () => {
    const worker = await (await fetch(workerMetricsUrl)).text();
    expect(
      metricValue(worker, 'temporal_workflow_completed_total', { workflow_type: 'deployWorkflow' }),
    ).toBeGreaterThanOrEqual(2);
    expect(metricValue(worker, 'temporal_activity_execution_latency_count')).toBeGreaterThan(0);
    const api = await (await fetch(`${platform.apiUrl}/metrics`)).text();
    expect(
      metricValue(api, 'webhost_http_requests_total', {
        route: '/v1/agents/:agentId/deployments',
        method: 'POST',
        status: '202',
      }),
    ).toBe(2);
    const gateway = await (await fetch(`${platform.gatewayUrl}/metrics`)).text();
    expect(
      metricValue(gateway, 'webhost_http_requests_total', { route: '/v1/agents/:agentId/invoke', status: '200' }),
    ).toBe(2);
  });

  it('a broken deploy fails with its reason and v2 keeps serving', async () => {
    const bad = await deploy(echo.id, THROWS_AT_START_AGENT);
    expect(bad).toMatchObject({ status: 'failed', error: { code: 'AgentStartFailed' } });
    expect(bad.error!.message).toContain('boom at start');
    expect(await invokedVersion(echo.id)).toBe('v2');
  });

  it('streams SSE events from the streaming example in order', async () => {
    const agent = (await api<Agent>('POST', '/v1/agents', { name: 'stream', runtime: 'local' })).body;
    expect((await deploy(agent.id, exampleSource('stream'))).status).toBe('live');
    const res = await invoke(agent.id, { text: 'one two three four', delayMs: 100 }, true);
    expect(res.headers.get('content-type')).toContain('text/event-stream');
    const events: { event?: string; data: string; at: number }[] = [];
    for await (const ev of res.body!.pipeThrough(new TextDecoderStream()).pipeThrough(new EventSourceParserStream()))
      events.push({ ...ev, at: Date.now() });
    expect(events.map((e) => e.event)).toEqual(['meta', 'delta', 'delta', 'delta', 'delta', 'usage', 'done']);
    const deltas = events
      .filter((e) => e.event === 'delta')
      .map((e) => JSON.parse(e.data) as { delta: string; index: number });
    expect(deltas.map((d) => d.index)).toEqual([0, 1, 2, 3]);
    expect(deltas.map((d) => d.delta).join('')).toBe('one two three four');
    expect(events[4]!.at - events[1]!.at).toBeGreaterThanOrEqual(200);
  });

  it('keeps agents, deployments and serving state across a restart', async () => {
    await platform.stop();
    platform = await startPlatform({ dataDir: platform.dataDir, ports: platform.ports });
    expect(await invokedVersion(echo.id)).toBe('v2');
    const list = await api<{ items: Deployment[] }>('GET', `/v1/agents/${echo.id}/deployments`);
    expect(list.body.items.map((d) => d.status)).toEqual(['failed', 'live', 'live']);
  });

  it('finishes a deploy that was in flight when every process was killed', async () => {
    const agent = (await api<Agent>('POST', '/v1/agents', { name: 'survivor', runtime: 'local' })).body;
    // /ping takes 2 s, so the deploy is caught mid-health-check
    const slow = agentSource(`export default { async fetch(req) {
      if (new URL(req.url).pathname === '/ping') { await new Promise((r) => setTimeout(r, 2000)); return new Response('ok'); }
      return Response.json({ output: { version: 'survivor' } });
    } }`);
    const started = await api<{ deploymentId: string }>('POST', `/v1/agents/${agent.id}/deployments`, { source: slow });
    await expect
      .poll(
        async () =>
          (await api<Deployment & { currentStep: string }>('GET', `/v1/deployments/${started.body.deploymentId}`)).body
            .currentStep,
        { timeout: 30_000, interval: 100 },
      )
      .toBe('health_check');

    await platform.crash();
    platform = await startPlatform({ dataDir: platform.dataDir, ports: platform.ports });

    let deployment: Deployment | undefined;
    await expect
      .poll(
        async () => {
          deployment = (await api<Deployment>('GET', `/v1/deployments/${started.body.deploymentId}`)).body;
          return deployment.status;
        },
        { timeout: 90_000, interval: 500 },
      )
      .toBe('live');
    expect(await invokedVersion(agent.id)).toBe('survivor');
    expect(await invokedVersion(echo.id)).toBe('v2');
  });
});
