import { EventSourceParserStream, type EventSourceMessage } from 'eventsource-parser/stream';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { INVOKE_MAX_BODY_BYTES, InvokeResponse } from '../../lib/contracts/index.js';
import { newId } from '../../lib/ids.js';
import { localAuth } from '../../test/helpers/auth.js';
import { deployLive, startDeployEnv, type DeployEnv } from '../../test/helpers/deploy-env.js';
import { agentSource, echoVersion, exampleSource } from '../../test/helpers/fixtures.js';
import { client, expectError } from '../../test/helpers/http.js';
import { createGatewayApp } from '../app.js';
import { ServingCache } from '../serving-cache.js';

// The gateway in front of agents deployed by the real deploy workflow on real workerd.

const auth = localAuth();
let env: DeployEnv;
let serving: ServingCache;
let call: ReturnType<typeof client>;
let app: ReturnType<typeof createGatewayApp>;
/** What the gateway logged, one parsed pino line each. */
const logged: { level: number; msg: string }[] = [];
let alice: string;
let bob: string;
const agents: Record<string, string> = {};

const newAgent = (name: string) =>
  env.store.createAgent({ id: newId('agt'), ownerId: 'alice', name, runtime: 'local', now: new Date() });

beforeAll(async () => {
  env = await startDeployEnv();
  serving = new ServingCache(env.store);
  await serving.start();
  const log = pino(
    { level: 'info' },
    { write: (line: string) => void logged.push(JSON.parse(line) as { level: number; msg: string }) },
  );
  app = createGatewayApp({ serving, authenticate: auth.authenticate, providers: { local: env.provider }, log });
  call = client(app);
  alice = await auth.token('alice');
  bob = await auth.token('bob');
  await env.store.ensureUser('alice', new Date());
  const sources = {
    echo: echoVersion('v1'),
    stream: exampleSource('stream'),
    failing: agentSource(`export default { async fetch(req) {
      if (new URL(req.url).pathname === '/ping') return new Response('ok');
      const { input } = await req.json();
      return input === 'bad' ? Response.json({ error: 'input must not be bad' }, { status: 422 }) : new Response('kaput: secret stack', { status: 500 });
    } }`),
  };
  await Promise.all(
    Object.entries(sources).map(async ([name, source]) => {
      const agent = await newAgent(name);
      await deployLive(env, 'alice', agent.id, source);
      agents[name] = agent.id;
    }),
  );
  agents.undeployed = (await newAgent('undeployed')).id;
});
afterAll(async () => {
  await serving?.close();
  await env?.close();
});

const invoke = (agentId: string, body: unknown, opts: { token?: string; headers?: Record<string, string> } = {}) =>
  call('POST', `/v1/agents/${agentId}/invoke`, {
    token: opts.token ?? alice,
    body,
    ...(opts.headers ? { headers: opts.headers } : {}),
  });

/** Reads an SSE response, noting when each event arrived. */
async function readEvents(res: Response) {
  const events: (EventSourceMessage & { at: number })[] = [];
  const stream = res.body!.pipeThrough(new TextDecoderStream()).pipeThrough(new EventSourceParserStream());
  for await (const ev of stream) events.push({ ...ev, at: Date.now() });
  return events;
}

describe('invoke/v1 happy: JSON', () => {
  it('answers { output, sessionId, deploymentId, usage, requestId } from the active deployment', async () => {
    const res = await invoke(agents.echo!, { input: { q: 'hi' } });
    expect(res.status).toBe(200);
    const body = InvokeResponse.parse(await res.json());
    expect(body.output).toMatchObject({ echo: { q: 'hi' }, version: 'v1', sessionId: body.sessionId });
    expect(body.sessionId).toMatch(/^ses_/);
    expect(body.deploymentId).toBe((await env.store.getAgent('alice', agents.echo!)).activeDeploymentId);
    expect(body.requestId).toBe(res.headers.get('x-request-id'));
    expect(body.usage.inputBytes).toBeGreaterThan(0);
    expect(body.usage.outputBytes).toBeGreaterThan(0);
  });

  it('passes the caller’s session id to the agent', async () => {
    const body = InvokeResponse.parse(
      await (await invoke(agents.echo!, { input: 1, sessionId: 'conversation-42' })).json(),
    );
    expect(body.sessionId).toBe('conversation-42');
    expect(body.output).toMatchObject({ sessionId: 'conversation-42' });
  });

  it('joins a streamed answer into one output when the caller did not ask for a stream', async () => {
    const body = InvokeResponse.parse(
      await (await invoke(agents.stream!, { input: { text: 'one two three', delayMs: 1 } })).json(),
    );
    expect(body.output).toBe('one two three');
  });
});

describe('invoke/v1 happy: serving cache', () => {
  it('serves a newly activated deployment on the very next call', async () => {
    const agent = await newAgent('switching');
    for (const version of ['v1', 'v2', 'v3']) {
      await deployLive(env, 'alice', agent.id, echoVersion(version));
      const body = InvokeResponse.parse(await (await invoke(agent.id, { input: 1 })).json());
      expect(body.output).toMatchObject({ version });
    }
  });

  it('stops serving an agent as soon as it is deleted', async () => {
    const agent = await newAgent('short-lived');
    await deployLive(env, 'alice', agent.id, echoVersion('v1'));
    expect((await invoke(agent.id, { input: 1 })).status).toBe(200);
    await env.store.deleteAgent({ ownerId: 'alice', agentId: agent.id, now: new Date() });
    await expectError(await invoke(agent.id, { input: 1 }), 404, 'not_found');
  });
});

describe('invoke/v1 happy: streaming', () => {
  it('relays the agent’s events as they arrive: meta, delta…, usage, done', async () => {
    const res = await invoke(agents.stream!, { input: { text: 'a b c d', delayMs: 150 }, stream: true });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/event-stream');
    const events = await readEvents(res);
    expect(events.map((e) => e.event)).toEqual(['meta', 'delta', 'delta', 'delta', 'delta', 'usage', 'done']);
    expect(JSON.parse(events[0]!.data)).toMatchObject({
      requestId: res.headers.get('x-request-id'),
      deploymentId: expect.stringMatching(/^dep_/),
    });
    expect(
      events
        .filter((e) => e.event === 'delta')
        .map((e) => (JSON.parse(e.data) as { delta: string }).delta)
        .join(''),
    ).toBe('a b c d');
    // not buffered: the first delta reached us long before the last
    const deltas = events.filter((e) => e.event === 'delta');
    expect(deltas.at(-1)!.at - deltas[0]!.at).toBeGreaterThanOrEqual(300);
  });

  it('stops quietly when the caller hangs up mid-stream', async () => {
    const caller = new AbortController();
    const res = await app.request(`/v1/agents/${agents.stream}/invoke`, {
      method: 'POST',
      headers: { authorization: `Bearer ${alice}`, 'content-type': 'application/json' },
      body: JSON.stringify({ input: { text: 'a b c d e f g h', delayMs: 100 }, stream: true }),
      signal: caller.signal,
    });
    const reader = res.body!.getReader();
    await reader.read(); // meta
    caller.abort();
    await reader.cancel();
    await new Promise((r) => setTimeout(r, 500));
    expect(logged.filter((l) => l.level >= 40)).toEqual([]);
  });

  it('streams when the caller sends Accept: text/event-stream', async () => {
    const res = await invoke(
      agents.stream!,
      { input: { text: 'x y', delayMs: 1 } },
      { headers: { accept: 'text/event-stream' } },
    );
    expect((await readEvents(res)).map((e) => e.event)).toEqual(['meta', 'delta', 'delta', 'usage', 'done']);
  });

  it('streams a JSON answer as one delta', async () => {
    const events = await readEvents(await invoke(agents.echo!, { input: 'hi', stream: true }));
    expect(events.map((e) => e.event)).toEqual(['meta', 'delta', 'usage', 'done']);
    expect(JSON.parse(events[1]!.data)).toMatchObject({ output: { echo: 'hi' } });
  });
});

describe('invoke/v1 errors', () => {
  it('answers runtime_unavailable when the agent has no live deployment', async () => {
    const err = await expectError(await invoke(agents.undeployed!, { input: 1 }), 503, 'runtime_unavailable');
    expect(err.message).toContain('deploy it first');
  });

  it('refuses malformed and ill-typed bodies', async () => {
    await expectError(
      await call('POST', `/v1/agents/${agents.echo}/invoke`, { token: alice, rawBody: '{"input":' }),
      400,
      'validation_failed',
    );
    await expectError(await invoke(agents.echo!, { input: 1, sessionId: 5 }), 400, 'validation_failed');
    await expectError(await invoke(agents.echo!, { input: 1, stream: 'yes' }), 400, 'validation_failed');
    await expectError(await invoke(agents.echo!, { input: 1, extra: true }), 400, 'validation_failed');
  });

  it('refuses bodies over the limit with payload_too_large', async () => {
    await expectError(
      await invoke(agents.echo!, { input: 'x'.repeat(INVOKE_MAX_BODY_BYTES) }),
      413,
      'payload_too_large',
    );
  });

  it('wraps the agent’s own errors in the envelope', async () => {
    const failed = await expectError(await invoke(agents.failing!, { input: 'boom' }), 503, 'runtime_unavailable');
    expect(failed.details).toMatchObject({ agentStatus: 500 });
    const refused = await expectError(await invoke(agents.failing!, { input: 'bad' }), 400, 'validation_failed');
    expect(refused.details).toMatchObject({ agentStatus: 422, body: expect.stringContaining('input must not be bad') });
  });

  it('answers runtime_unavailable when the runtime lost the version', async () => {
    const agent = await newAgent('vanishing');
    const { versionRef } = await deployLive(env, 'alice', agent.id, echoVersion('v1'));
    expect((await invoke(agent.id, { input: 1 })).status).toBe(200);
    await env.runtime.host.removeVersion(agent.id, versionRef);
    await expectError(await invoke(agent.id, { input: 1 }), 503, 'runtime_unavailable');
  });
});

describe('invoke/v1 security', () => {
  it('answers 404 for another owner’s agent or an unknown one, and 401 without a valid token', async () => {
    await expectError(await invoke(agents.echo!, { input: 1 }, { token: bob }), 404, 'not_found');
    await expectError(await invoke('agt_nope', { input: 1 }), 404, 'not_found');
    await expectError(
      await call('POST', `/v1/agents/${agents.echo}/invoke`, { body: { input: 1 } }),
      401,
      'unauthorized',
    );
    await expectError(await invoke(agents.echo!, { input: 1 }, { token: `${alice}x` }), 401, 'unauthorized');
  });
});
