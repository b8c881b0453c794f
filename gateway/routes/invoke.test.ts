import { readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { EventSourceParserStream, type EventSourceMessage } from 'eventsource-parser/stream';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CreatedApiKey, INVOKE_MAX_BODY_BYTES, InvokeResponse } from '../../lib/contracts/index.js';
import { newId } from '../../lib/ids.js';
import { apiUnderTest } from '../../test/helpers/api.js';
import { localAuth } from '../../test/helpers/auth.js';
import { deployLive, startDeployEnv, type DeployEnv } from '../../test/helpers/deploy-env.js';
import { agentSource, echoVersion, exampleSource } from '../../test/helpers/fixtures.js';
import { client, expectError, metricValue } from '../../test/helpers/http.js';
import { fakeWorkflows } from '../../test/helpers/workflows.js';
import { listen } from '../../lib/http/serve.js';
import { createGatewayApp } from '../app.js';
import { RequestLimiter } from '../limits.js';
import { UsageMeter } from '../metering.js';
import { ServingCache } from '../serving-cache.js';

// The gateway in front of agents deployed by the real deploy workflow on real workerd.

const auth = localAuth();
let env: DeployEnv;
let serving: ServingCache;
let call: ReturnType<typeof client>;
let app: ReturnType<typeof createGatewayApp>;
let meter: UsageMeter;
/** What the gateway logged, one parsed pino line each. */
const logged: { level: number; msg: string }[] = [];
let alice: string;
let bob: string;
const agents: Record<string, string> = {};

/** Small limits, so that tests reach them quickly. */
const LIMITS = { invokeTimeoutMs: 3_000, streamMaxMs: 3_000, replyMaxBytes: 256 * 1024 };

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
  meter = new UsageMeter(env.store, log).start();
  app = createGatewayApp({
    serving,
    authenticate: auth.authenticate,
    apiKeys: env.store,
    providers: { local: env.provider },
    limits: LIMITS,
    idempotency: env.store,
    meter,
    limiter: new RequestLimiter(env.store, log),
    log,
  });
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
      if (input === 'throw') throw new Error('thrown by the agent');
      return input === 'bad' ? Response.json({ error: 'input must not be bad' }, { status: 422 }) : new Response('kaput: secret stack', { status: 500 });
    } }`),
    // Misbehaves on request: never answers, streams forever, or answers far too much.
    hostile: agentSource(`export default { async fetch(req) {
      if (new URL(req.url).pathname === '/ping') return new Response('ok');
      const { input } = await req.json();
      if (input === 'hang') { await new Promise((r) => setTimeout(r, 600000)); return new Response('late'); }
      if (input === 'endless') {
        let n = 0;
        const body = new ReadableStream({ async pull(c) { await new Promise((r) => setTimeout(r, 50)); c.enqueue(new TextEncoder().encode('data: {"delta":"' + (n++) + ' "}\\n\\n')); } });
        return new Response(body, { headers: { 'content-type': 'text/event-stream' } });
      }
      if (input === 'huge-json') return Response.json({ output: 'x'.repeat(1024 * 1024) });
      if (input === 'huge-stream') {
        const chunk = new TextEncoder().encode('data: {"delta":"' + 'y'.repeat(64 * 1024) + '"}\\n\\n');
        let sent = 0;
        const body = new ReadableStream({ pull(c) { if (sent++ < 64) c.enqueue(chunk); else c.close(); } });
        return new Response(body, { headers: { 'content-type': 'text/event-stream' } });
      }
      return Response.json({ output: input });
    } }`),
    // Reports token usage as the AI SDK does: in its JSON answer, or in a UI-stream finish frame.
    tokens: agentSource(`export default { async fetch(req) {
      if (new URL(req.url).pathname === '/ping') return new Response('ok');
      const usage = { inputTokens: 12, outputTokens: 34, totalTokens: 46 };
      if ((req.headers.get('accept') ?? '').includes('text/event-stream')) {
        const frames = [{ type: 'start' }, { type: 'text-delta', id: 't', delta: 'hi' }, { type: 'finish', messageMetadata: { usage } }];
        return new Response(frames.map((f) => 'data: ' + JSON.stringify(f) + '\\n\\n').join(''), { headers: { 'content-type': 'text/event-stream' } });
      }
      return Response.json({ output: { text: 'hi' }, usage });
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
  await meter?.close();
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

describe('invoke/v1 with API keys', () => {
  // Keys are made and revoked through the api, as a user would; the gateway reads the same store.
  let keysApi: Awaited<ReturnType<typeof apiUnderTest>>;
  beforeAll(async () => {
    keysApi = await apiUnderTest(env.store, fakeWorkflows());
  });
  afterAll(async () => keysApi?.close());

  const makeKey = async (user: string, body: { name: string; agentId?: string }) => {
    const res = await keysApi.call('POST', '/v1/api-keys', { token: await keysApi.token(user), body });
    expect(res.status).toBe(201);
    return CreatedApiKey.parse(await res.json());
  };
  const withKey = (agentId: string, body: unknown, key: string, via: 'bearer' | 'x-api-key' = 'bearer') =>
    call('POST', `/v1/agents/${agentId}/invoke`, {
      body,
      headers: via === 'bearer' ? { authorization: `Bearer ${key}` } : { 'x-api-key': key },
    });
  /** Every answer but the POST that made a key: none may hold it. */
  const answers: string[] = [];
  const text = async (res: Response) => {
    const t = await res.clone().text();
    answers.push(t);
    return res;
  };

  it('invokes the owner’s agent with a key in Authorization: Bearer or in x-api-key, as the owner', async () => {
    const { key } = await makeKey('alice', { name: 'any agent' });
    for (const via of ['bearer', 'x-api-key'] as const) {
      const res = await text(await withKey(agents.echo!, { input: { via } }, key, via));
      expect(res.status).toBe(200);
      const body = InvokeResponse.parse(await res.json());
      expect(body.output).toMatchObject({ echo: { via }, version: 'v1' });
      expect(body.deploymentId).toBe((await env.store.getAgent('alice', agents.echo!)).activeDeploymentId);
    }
    // and streams, and any other of the owner's agents
    const streamed = await text(
      await withKey(agents.stream!, { input: { text: 'a b' }, stream: true }, key, 'x-api-key'),
    );
    expect(streamed.status).toBe(200);
    expect((await readEvents(streamed)).map((e) => e.event).at(-1)).toBe('done');
  });

  it('answers 404 for another owner’s agent: a key acts as its owner only', async () => {
    const { key } = await makeKey('bob', { name: 'bob’s' });
    await expectError(await text(await withKey(agents.echo!, { input: 1 }, key)), 404, 'not_found');
  });

  it('refuses a key bound to one agent for any other with 403, whether or not that agent exists', async () => {
    const { key, id } = await makeKey('alice', { name: 'echo only', agentId: agents.echo! });
    expect((await text(await withKey(agents.echo!, { input: 'bound' }, key, 'x-api-key'))).status).toBe(200);
    const refused = await expectError(await text(await withKey(agents.hostile!, { input: 1 }, key)), 403, 'forbidden');
    expect(refused.message).toBe('this API key is bound to another agent');
    await expectError(await text(await withKey('agt_nope', { input: 1 }, key)), 403, 'forbidden');
    const audit = (await env.store.listAudit('alice', { limit: 100 })).items.find((e) => e.targetId === id);
    expect(audit).toMatchObject({ action: 'api_key.created', actor: 'user:alice', details: { agentId: agents.echo } });
  });

  it('stops a revoked key on the very next request, with 401', async () => {
    const { key, id } = await makeKey('alice', { name: 'short-lived' });
    expect((await text(await withKey(agents.echo!, { input: 1 }, key))).status).toBe(200);
    const revoked = await keysApi.call('DELETE', `/v1/api-keys/${id}`, { token: await keysApi.token('alice') });
    expect(revoked.status).toBe(204);
    for (const via of ['bearer', 'x-api-key'] as const) {
      const err = await expectError(
        await text(await withKey(agents.echo!, { input: 1 }, key, via)),
        401,
        'unauthorized',
      );
      expect(err.message).toBe('invalid or revoked API key');
    }
    const audit = (await env.store.listAudit('alice', { limit: 100 })).items.filter((e) => e.targetId === id);
    expect(audit.map((e) => e.action)).toEqual(['api_key.revoked', 'api_key.created']);
  });

  it('refuses forged and malformed keys with 401, quoting none of them', async () => {
    const { key } = await makeKey('alice', { name: 'real' });
    const forged = `whk_${'A'.repeat(43)}`;
    const tampered = `${key.slice(0, -1)}${key.endsWith('A') ? 'B' : 'A'}`;
    for (const bad of [forged, tampered, 'whk_short', `${key}x`, 'not-a-key']) {
      for (const via of ['bearer', 'x-api-key'] as const) {
        if (via === 'bearer' && !bad.startsWith('whk_')) continue; // that is a (bad) user token
        const res = await text(await withKey(agents.echo!, { input: 1 }, bad, via));
        await expectError(res, 401, 'unauthorized');
        expect(answers.at(-1)).not.toContain(bad);
      }
    }
    // an x-api-key that fails is not rescued by a valid user token beside it
    const both = await call('POST', `/v1/agents/${agents.echo}/invoke`, {
      token: alice,
      body: { input: 1 },
      headers: { 'x-api-key': forged },
    });
    await expectError(both, 401, 'unauthorized');
  });

  it('shows no key in any answer but the POST that made it, nor in the list, nor in the gateway’s log', async () => {
    const made = await makeKey('alice', { name: 'watched', agentId: agents.echo! });
    await text(await withKey(agents.echo!, { input: 'x' }, made.key));
    await text(await withKey(agents.failing!, { input: 'x' }, made.key));
    const list = await keysApi.call('GET', '/v1/api-keys', { token: await keysApi.token('alice') });
    answers.push(await list.text());
    const all = await env.store.listApiKeys('alice');
    expect(all.length).toBeGreaterThan(3);
    const shown = answers.join('\n');
    expect(shown).not.toContain(made.key);
    expect(shown).not.toMatch(/whk_[A-Za-z0-9_-]{43}/);
    expect(JSON.stringify(logged)).not.toContain('whk_');
  });
});

describe('invoke/v1 limits', () => {
  it('answers 504 in the envelope when a JSON invoke passes the invoke time limit', async () => {
    const err = await expectError(await invoke(agents.hostile!, { input: 'hang' }), 504, 'timeout');
    expect(err.message).toContain('invoke time limit');
  });

  it('ends a stream that passes the stream time limit with an error event saying why', async () => {
    const events = await readEvents(await invoke(agents.hostile!, { input: 'endless', stream: true }));
    expect(events[0]!.event).toBe('meta');
    expect(events.filter((e) => e.event === 'delta').length).toBeGreaterThan(5);
    expect(events.at(-1)).toMatchObject({ event: 'error' });
    expect(JSON.parse(events.at(-1)!.data)).toMatchObject({
      code: 'timeout',
      message: expect.stringContaining('stream time limit'),
    });
  });

  it('refuses a reply over the size limit, JSON or streamed, without passing it on', async () => {
    const err = await expectError(await invoke(agents.hostile!, { input: 'huge-json' }), 502, 'reply_too_large');
    expect(err.message).toContain(`${LIMITS.replyMaxBytes}-byte reply limit`);
    const events = await readEvents(await invoke(agents.hostile!, { input: 'huge-stream', stream: true }));
    const relayed = events.filter((e) => e.event === 'delta').reduce((n, e) => n + e.data.length, 0);
    expect(relayed).toBeLessThanOrEqual(LIMITS.replyMaxBytes);
    expect(JSON.parse(events.at(-1)!.data)).toMatchObject({ code: 'reply_too_large' });
  });

  it('releases the agent’s connection as soon as a JSON caller leaves', async () => {
    const port = await versionPort(agents.hostile!);
    const before = connectionsTo(port);
    const callers = Array.from({ length: 10 }, () => new AbortController());
    const pending = callers.map((caller) =>
      Promise.resolve(
        app.request(`/v1/agents/${agents.hostile}/invoke`, {
          method: 'POST',
          headers: { authorization: `Bearer ${alice}`, 'content-type': 'application/json' },
          body: JSON.stringify({ input: 'hang' }),
          signal: caller.signal,
        }),
      ).catch(() => null),
    );
    // one connection at least for each invoke held open (some may reuse idle ones)
    await expect.poll(() => connectionsTo(port)).toBeGreaterThanOrEqual(10);
    for (const caller of callers) caller.abort();
    await Promise.all(pending);
    await expect.poll(() => connectionsTo(port), RELEASED).toBeLessThanOrEqual(before);
  });
});

describe('invoke/v1 limits on a real server', () => {
  it('releases the agent’s connection as soon as a JSON caller hangs up', async () => {
    const server = await listen(app.fetch, 0);
    try {
      const port = await versionPort(agents.hostile!);
      const before = connectionsTo(port);
      const url = new URL(server.url);
      const body = JSON.stringify({ input: 'hang' });
      const callers = await Promise.all(
        Array.from({ length: 20 }, () => {
          const socket = connect(Number(url.port), url.hostname);
          socket.on('error', () => undefined);
          return new Promise<Socket>((resolve) =>
            socket.once('connect', () => {
              socket.write(
                `POST /v1/agents/${agents.hostile}/invoke HTTP/1.1\r\nhost: ${url.host}\r\nauthorization: Bearer ${alice}\r\n` +
                  `content-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
              );
              resolve(socket);
            }),
          );
        }),
      );
      await expect.poll(() => connectionsTo(port)).toBeGreaterThanOrEqual(20);
      for (const socket of callers) socket.destroy();
      await expect.poll(() => connectionsTo(port), RELEASED).toBeLessThanOrEqual(before);
    } finally {
      await server.close();
    }
  });
});

describe('invoke/v1 idempotency', () => {
  it('answers a repeated Idempotency-Key with the first answer, per owner, JSON only', async () => {
    const headers = { 'idempotency-key': `inv-${newId('req')}` };
    const first = await invoke(agents.echo!, { input: 'once', sessionId: 's-1' }, { headers });
    const again = await invoke(agents.echo!, { input: 'once', sessionId: 's-1' }, { headers });
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(await again.json()).toEqual(await first.json());
    await expectError(await invoke(agents.echo!, { input: 'twice', sessionId: 's-1' }, { headers }), 409, 'conflict');
    await expectError(
      await invoke(agents.echo!, { input: 'once', stream: true }, { headers: { 'idempotency-key': 'streamed' } }),
      400,
      'validation_failed',
    );
  });

  it('keeps no answer for a failed invoke, so the retry runs', async () => {
    const headers = { 'idempotency-key': `inv-${newId('req')}` };
    await expectError(await invoke(agents.failing!, { input: 'boom' }, { headers }), 503, 'runtime_unavailable');
    const retried = await invoke(agents.failing!, { input: 'boom' }, { headers });
    expect(retried.headers.get('idempotent-replayed')).toBeNull();
  });
});

describe('invoke/v1 careful input', () => {
  it('refuses session ids a header cannot carry with 400, not 503', async () => {
    for (const sessionId of ['line\r\nbreak', 'nul\u0000byte', 'caf\u00e9', ' padded ']) {
      await expectError(await invoke(agents.echo!, { input: 1, sessionId }), 400, 'validation_failed');
    }
    expect((await invoke(agents.echo!, { input: 1, sessionId: 'user 42/chat=1' })).status).toBe(200);
  });

  it('refuses input nested 5,000 deep with 400', async () => {
    const deep = `{"input":${'['.repeat(5000)}${']'.repeat(5000)}}`;
    const err = await expectError(
      await call('POST', `/v1/agents/${agents.echo}/invoke`, { token: alice, rawBody: deep }),
      400,
      'validation_failed',
    );
    expect(err.message).toContain('deeper than 64');
  });

  it('answers an agent that throws with its message, never a stack or a host path', async () => {
    const err = await expectError(await invoke(agents.failing!, { input: 'throw' }), 503, 'runtime_unavailable');
    const quoted = JSON.stringify(err.details);
    expect(quoted).toContain('thrown by the agent');
    expect(quoted).not.toMatch(/node_modules|\/work\/|\bat \w+ \(|\.js:\d+/);
  });
});

/**
 * Connections that carried abandoned invokes close at once; undici then opens idle ones to the
 * same agent (to find the aborted requests aborted), which close after the pool's 4 s keep-alive.
 * Either way, within a few seconds the agent has no more connections than before.
 */
const RELEASED = { timeout: 8_000, interval: 200 };

/** The port of the workerd version serving an agent. */
async function versionPort(agentId: string): Promise<number> {
  const ref = (await env.store.getServingTarget('alice', agentId)).deployment!.providerRef;
  return Number(new URL(await env.runtime.host.endpoint(ref)).port);
}

/** Established TCP connections to a loopback port (/proc/net/tcp), counted from the connecting side. */
function connectionsTo(port: number): number {
  const hex = port.toString(16).toUpperCase().padStart(4, '0');
  return ['/proc/net/tcp', '/proc/net/tcp6']
    .flatMap((f) => readFileSync(f, 'utf8').trim().split('\n').slice(1))
    .map((line) => line.trim().split(/\s+/))
    .filter((cols) => cols[2]?.endsWith(`:${hex}`) && cols[3] === '01').length;
}

describe('invoke/v1 metering', () => {
  /** The usage events of an agent, once the meter has written what it holds. */
  const eventsOf = async (agentId: string) => {
    await meter.flush();
    return (await env.store.listUsageEvents({ ownerId: 'alice', agentId, limit: 100 })).items;
  };

  it('meters every invoke once, its request id the event id, with the tokens the agent reported', async () => {
    const json = await invoke(
      agents.tokens!,
      { input: 'x', sessionId: 'ses-metered' },
      { headers: { 'x-webhost-end-user': 'customer-7' } },
    );
    const body = InvokeResponse.parse(await json.json());
    expect(body.usage).toMatchObject({ inputTokens: 12, outputTokens: 34 });
    const streamed = await invoke(agents.tokens!, { input: 'x', stream: true });
    const usageEvent = (await readEvents(streamed)).find((e) => e.event === 'usage')!;
    expect(JSON.parse(usageEvent.data)).toMatchObject({ inputTokens: 12, outputTokens: 34 });

    const events = await eventsOf(agents.tokens!);
    const byId = new Map(events.map((e) => [e.id, e]));
    expect(byId.get(body.requestId)).toMatchObject({
      kind: 'request',
      deploymentId: body.deploymentId,
      status: 200,
      ok: true,
      inputTokens: 12,
      outputTokens: 34,
      sessionId: 'ses-metered',
      endUser: 'customer-7',
    });
    expect(byId.get(streamed.headers.get('x-request-id')!)).toMatchObject({
      status: 200,
      inputTokens: 12,
      outputTokens: 34,
    });
    expect(events).toHaveLength(2);
  });

  it('meters failed invokes with the status the caller got', async () => {
    const res = await invoke(agents.failing!, { input: 'kaput' });
    expect(res.status).toBe(503);
    const event = (await eventsOf(agents.failing!)).find((e) => e.id === res.headers.get('x-request-id'));
    expect(event).toMatchObject({ status: 503, ok: false });
  });

  it('never takes the caller’s request id, which would let a caller make invokes count as one', async () => {
    const ids = await Promise.all(
      [1, 2].map(async () =>
        (await invoke(agents.echo!, { input: 1 }, { headers: { 'x-request-id': 'req_mine' } })).headers.get(
          'x-request-id',
        ),
      ),
    );
    expect(ids).not.toContain('req_mine');
    expect(new Set(ids).size).toBe(2);
  });

  it('refuses an end user id over 128 characters with 400, metering nothing', async () => {
    const before = (await eventsOf(agents.echo!)).length;
    await expectError(
      await invoke(agents.echo!, { input: 1 }, { headers: { 'x-webhost-end-user': 'u'.repeat(129) } }),
      400,
      'validation_failed',
    );
    expect((await eventsOf(agents.echo!)).length).toBe(before);
  });
});

describe('invoke/v1 monthly request limit', () => {
  it('answers 429 limit_exceeded with Retry-After once the tier’s requests are used, and invokes nothing more', async () => {
    const owner = `limited-${newId('usr')}`;
    await env.store.ensureUser(owner, new Date());
    await env.store.setUserTier({ userId: owner, tier: 'free', now: new Date() }); // 10,000 a period
    const agent = await env.store.createAgent({
      id: newId('agt'),
      ownerId: owner,
      name: 'limited',
      runtime: 'local',
      now: new Date(),
    });
    await deployLive(env, owner, agent.id, echoVersion('v1'));
    // the period's requests all but used (as if leased by other gateways): 5 left
    const period = new Date().toISOString().slice(0, 7);
    await env.store.leaseRequests({ ownerId: owner, period, want: 9_995 });
    const token = await auth.token(owner);
    const results = await Promise.all(Array.from({ length: 12 }, () => invoke(agent.id, { input: 1 }, { token })));
    expect(results.filter((r) => r.status === 200)).toHaveLength(5);
    const refused = results.filter((r) => r.status === 429);
    expect(refused).toHaveLength(7);
    const res = refused[0]!;
    const retryAfter = Number(res.headers.get('retry-after'));
    const nextPeriod = new Date(Date.UTC(new Date().getUTCFullYear(), new Date().getUTCMonth() + 1, 1));
    expect(retryAfter).toBeGreaterThan(0);
    expect(Math.abs(retryAfter - (nextPeriod.getTime() - Date.now()) / 1000)).toBeLessThan(60);
    await expectError(res, 429, 'limit_exceeded');
    await meter.flush();
    const events = (await env.store.listUsageEvents({ ownerId: owner, agentId: agent.id, limit: 100 })).items;
    expect(events).toHaveLength(5);
  });
});

describe('gateway metrics', () => {
  it('counts requests by route pattern and status, their latency, and errors by code at GET /metrics', async () => {
    const scrape = async () => (await app.request('/metrics')).text();
    const invokeRoute = { route: '/v1/agents/:agentId/invoke', method: 'POST' };
    const before = await scrape();
    for (let i = 0; i < 3; i++) expect((await invoke(agents.echo!, { input: i })).status).toBe(200);
    await expectError(await invoke(newId('agt'), { input: 1 }), 404, 'not_found');
    const after = await scrape();
    const delta = (name: string, labels: Record<string, string>) =>
      metricValue(after, name, labels) - metricValue(before, name, labels);
    expect(delta('webhost_http_requests_total', { ...invokeRoute, status: '200', service: 'gateway' })).toBe(3);
    expect(delta('webhost_http_requests_total', { ...invokeRoute, status: '404' })).toBe(1);
    expect(delta('webhost_http_request_duration_seconds_count', invokeRoute)).toBe(4);
    expect(delta('webhost_http_errors_total', { code: 'not_found' })).toBe(1);
    // the limit test above refused 7 invokes: request-limit rejections are errors by code
    expect(metricValue(after, 'webhost_http_errors_total', { code: 'limit_exceeded' })).toBeGreaterThanOrEqual(7);
    // no concrete path or id in any label
    expect(after).not.toContain(agents.echo!);
  });
});
