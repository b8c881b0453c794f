import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Agent, Deployment } from '../../lib/contracts/index.js';
import { agentSource } from '../helpers/fixtures.js';
import { startOtlpReceiver, type ReceivedSpan } from '../helpers/otlp.js';
import { jsonApi } from '../helpers/http.js';
import { startPlatform, type RunningPlatform } from '../helpers/platform.js';

// Traces, as an operator with a collector sees them: the platform started with
// OTEL_EXPORTER_OTLP_ENDPOINT pointed at an OTLP/HTTP receiver; a deploy is one trace from the
// api's request through Temporal (the SDK's interceptors) and the activities to the runtime
// provider's calls, and an invoke continues its caller's trace through the gateway to the agent.

let platform: RunningPlatform;
let receiver: Awaited<ReturnType<typeof startOtlpReceiver>>;
let token: string;

beforeAll(async () => {
  receiver = await startOtlpReceiver();
  platform = await startPlatform({
    env: { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_BSP_SCHEDULE_DELAY: '100', OTEL_SERVICE_NAME: '' },
  });
  token = await platform.token('tracer');
});
afterAll(async () => {
  await platform?.stop();
  await receiver?.close();
});

const api = jsonApi(() => ({ url: platform.apiUrl, token }));

/** The spans of one trace, once `names` have all arrived (exports are batched). */
async function trace(traceId: () => string | undefined, names: string[]): Promise<ReceivedSpan[]> {
  let spans: ReceivedSpan[] = [];
  await expect
    .poll(
      () => {
        const id = traceId();
        spans = receiver.spans.filter((s) => s.traceId === id);
        return names.filter((n) => !spans.some((s) => s.name === n));
      },
      { timeout: 15_000, interval: 100 },
    )
    .toEqual([]);
  return spans;
}

/** The names from `span` up to its trace's root, following parent ids. */
function lineage(spans: ReceivedSpan[], span: ReceivedSpan): string[] {
  const names = [span.name];
  for (let s = span; s.parentSpanId;) {
    const parent = spans.find((p) => p.spanId === s.parentSpanId);
    if (!parent) break;
    names.push(parent.name);
    s = parent;
  }
  return names;
}

// answers with the trace context it was called with
const TRACE_ECHO = agentSource(`export default { async fetch(req) {
  if (new URL(req.url).pathname === '/ping') return new Response('ok');
  return Response.json({ output: req.headers.get('traceparent') });
} }`);

describe('traces over OTLP', () => {
  let agent: Agent;
  let deployment: Deployment;

  it('follows a deploy from the api through Temporal and its activities to the runtime provider', async () => {
    agent = (await api<Agent>('POST', '/v1/agents', { name: 'traced', runtime: 'local' })).body;
    const started = await api<{ deploymentId: string }>('POST', `/v1/agents/${agent.id}/deployments`, {
      source: TRACE_ECHO,
    });
    expect(started.status).toBe(202);
    await expect
      .poll(
        async () => {
          deployment = (await api<Deployment>('GET', `/v1/deployments/${started.body.deploymentId}`)).body;
          return deployment.status;
        },
        { timeout: 60_000, interval: 200 },
      )
      .toBe('live');

    const request = () =>
      receiver.spans.find(
        (s) => s.name === 'POST /v1/agents/:agentId/deployments' && s.attributes['http.response.status_code'] === 202,
      )?.traceId;
    const spans = await trace(request, [
      'POST /v1/agents/:agentId/deployments',
      'StartWorkflow:deployWorkflow',
      'RunWorkflow:deployWorkflow',
      'runtime.deployVersion',
      'runtime.healthCheck',
      'runtime.activateVersion',
    ]);
    expect(new Set(spans.map((s) => s.service))).toEqual(new Set(['webhost']));
    const upload = spans.find((s) => s.name === 'runtime.deployVersion')!;
    expect(upload.attributes).toMatchObject({
      'webhost.runtime': 'local',
      'webhost.agent_id': agent.id,
      'webhost.deployment_id': deployment.id,
    });
    // one unbroken chain of parents: provider call ← activity ← workflow ← start ← request
    const chain = lineage(spans, upload);
    expect(chain[0]).toBe('runtime.deployVersion');
    expect(chain.some((n) => n.startsWith('RunActivity:'))).toBe(true);
    expect(chain).toContain('RunWorkflow:deployWorkflow');
    expect(chain).toContain('StartWorkflow:deployWorkflow');
    expect(chain.at(-1)).toBe('POST /v1/agents/:agentId/deployments');
    console.log(`deploy trace: ${spans.length} spans; ${chain.join(' ← ')}`);
  });

  it('continues the caller’s trace through the gateway to the agent', async () => {
    const callerTrace = randomBytes(16).toString('hex');
    const callerSpan = randomBytes(8).toString('hex');
    const res = await fetch(`${platform.gatewayUrl}/v1/agents/${agent.id}/invoke`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${token}`,
        'content-type': 'application/json',
        traceparent: `00-${callerTrace}-${callerSpan}-01`,
      },
      body: JSON.stringify({ input: 'hi' }),
    });
    expect(res.status).toBe(200);
    const { output, requestId } = (await res.json()) as { output: string; requestId: string };

    const spans = await trace(() => callerTrace, ['POST /v1/agents/:agentId/invoke', 'runtime.invoke']);
    const server = spans.find((s) => s.name === 'POST /v1/agents/:agentId/invoke')!;
    expect(server.parentSpanId).toBe(callerSpan);
    expect(server.attributes['webhost.request_id']).toBe(requestId);
    const call = spans.find((s) => s.name === 'runtime.invoke')!;
    expect(lineage(spans, call).at(-1)).toBe('POST /v1/agents/:agentId/invoke');
    // the agent was called in the gateway's trace, as a child of the provider's call
    expect(output).toBe(`00-${callerTrace}-${call.spanId}-01`);
  });
});
