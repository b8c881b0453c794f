import { createHash, randomUUID } from 'node:crypto';
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { PGlite } from '@electric-sql/pglite';
import { Client, Connection } from '@temporalio/client';
import { EventSourceParserStream } from 'eventsource-parser/stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Agent, Deployment, Runtime } from '../../lib/contracts/index.js';
import { startFakeAgentCore, type FakeAgentCore } from '../fakes/agentcore/server.js';
import { startFakeCloudflare, type FakeCloudflare } from '../fakes/cloudflare/server.js';
import { agentSource } from '../helpers/fixtures.js';
import { HOSTILE, PROBER } from '../security/agents.js';
import { startPlatform, type RunningPlatform } from '../helpers/platform.js';

// One platform, three runtimes: local (workerd), Cloudflare (a fake Cloudflare API that runs
// the uploads in workerd) and AgentCore (a fake AgentCore + S3 that runs them in Node). On each:
// deploy, invoke (JSON and SSE), set a secret, deploy again, roll back, delete. A canary secret
// value is planted on every runtime, and afterwards looked for everywhere the platform keeps or
// says anything: every table of the state store, the logs (at debug level), every api and
// gateway answer, the Temporal history as the server stores it, every file of its data folder.

const root = resolve(import.meta.dirname, '../..');
const BUCKET = 'webhost-code-e2e';
const CANARY = `canary-${randomUUID()}`;
const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

let platform: RunningPlatform;
let cloudflare: FakeCloudflare;
let agentcore: FakeAgentCore;
let token: string;
/** Every answer the api and gateway gave, as text. */
const answers: string[] = [];

beforeAll(async () => {
  cloudflare = await startFakeCloudflare({ maxRunning: 8 });
  agentcore = await startFakeAgentCore({ buckets: [BUCKET], maxRunning: 8 });
  platform = await startPlatform({
    env: {
      LOG_LEVEL: 'debug',
      // AgentCore is open to enterprise (or pro with its add-on)
      WEBHOST_DEFAULT_TIER: 'enterprise',
      // short, so the limits below are seen quickly
      WEBHOST_INVOKE_TIMEOUT_MS: '6000',
      WEBHOST_STREAM_MAX_MS: '3000',
      CLOUDFLARE_API_TOKEN: cloudflare.apiToken,
      CLOUDFLARE_ACCOUNT_ID: cloudflare.accountId,
      CLOUDFLARE_BASE_URL: cloudflare.apiUrl,
      CLOUDFLARE_WORKERS_URL: cloudflare.workersUrl,
      ...agentcore.env(),
      WEBHOST_AGENTCORE_ROLE_ARN: 'arn:aws:iam::123456789012:role/webhost-agentcore',
      WEBHOST_AGENTCORE_CODE_BUCKET: BUCKET,
    },
  });
  token = await platform.token('runtimes-user');
}, 180_000);
afterAll(async () => {
  await platform?.stop();
  await cloudflare?.close();
  await agentcore?.close();
});

async function call<T>(base: string, method: string, path: string, body?: unknown) {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: body === undefined ? null : JSON.stringify(body),
  });
  const text = await res.text();
  answers.push(text);
  return { status: res.status, body: (text ? JSON.parse(text) : null) as T };
}
const api = <T>(method: string, path: string, body?: unknown) => call<T>(platform.apiUrl, method, path, body);

/** Answers with its version and a hash of its secret (never the value), or streams three words. */
const agentVersion = (version: string) =>
  agentSource(`export default { async fetch(req, env) {
    if (new URL(req.url).pathname === '/ping') return new Response('ok');
    const { input } = await req.json();
    if ((req.headers.get('accept') ?? '').includes('text/event-stream')) {
      const enc = new TextEncoder();
      return new Response(new ReadableStream({ async start(c) {
        for (const w of ['one', 'two', 'three']) {
          c.enqueue(enc.encode('data: ' + JSON.stringify({ delta: w }) + '\\n\\n'));
          await new Promise((r) => setTimeout(r, 20));
        }
        c.close();
      } }), { headers: { 'content-type': 'text/event-stream' } });
    }
    const secret = env.CANARY_SECRET;
    const hash = secret === undefined ? null : [...new Uint8Array(await crypto.subtle.digest('SHA-256',
      new TextEncoder().encode(secret)))].map((b) => b.toString(16).padStart(2, '0')).join('');
    return Response.json({ output: { version: ${JSON.stringify(version)}, input, secretHash: hash } });
  } }`);

async function deployLive(agentId: string, version: string): Promise<Deployment> {
  const started = await api<{ deploymentId: string }>('POST', `/v1/agents/${agentId}/deployments`, {
    source: agentVersion(version),
  });
  expect(started.status).toBe(202);
  let d!: Deployment;
  await expect
    .poll(
      async () => {
        d = (await api<Deployment>('GET', `/v1/deployments/${started.body.deploymentId}`)).body;
        return d.status;
      },
      { timeout: 120_000, interval: 250 },
    )
    .toMatch(/^(live|failed)$/);
  expect(d.error).toBeNull();
  return d;
}

async function invokeJson(agentId: string) {
  const res = await call<{ output: { version: string; secretHash: string | null }; deploymentId: string }>(
    platform.gatewayUrl,
    'POST',
    `/v1/agents/${agentId}/invoke`,
    { input: { hello: 'world' } },
  );
  expect(res.status).toBe(200);
  return res.body;
}

async function invokeStream(agentId: string) {
  const res = await fetch(`${platform.gatewayUrl}/v1/agents/${agentId}/invoke`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ input: 'stream', stream: true }),
  });
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toContain('text/event-stream');
  const events: { event: string | undefined; data: string }[] = [];
  const reader = res.body!.pipeThrough(new TextDecoderStream()).pipeThrough(new EventSourceParserStream()).getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    events.push({ event: value.event, data: value.data });
  }
  answers.push(JSON.stringify(events));
  return events;
}

const webhost = (...args: string[]) =>
  promisify(execFile)(process.execPath, ['--import', 'tsx', join(root, 'scripts/webhost.ts'), ...args], {
    cwd: root,
    env: { ...process.env, API_URL: platform.apiUrl, GATEWAY_URL: platform.gatewayUrl, WEBHOST_TOKEN: token },
    timeout: 120_000,
  });

const agents = new Map<Runtime, Agent>();

describe.each(['local', 'cloudflare', 'agentcore'] as const)('the deploy lifecycle on %s', (runtime) => {
  it('deploys, invokes (JSON and SSE), keeps a secret across a deploy and a rollback, and deletes', async () => {
    const created = await api<Agent>('POST', '/v1/agents', { name: `life-${runtime}`, runtime });
    expect(created.status).toBe(201);
    const agent = created.body;
    agents.set(runtime, agent);

    const v1 = await deployLive(agent.id, 'v1');
    expect(v1.runtime).toBe(runtime);
    expect(await invokeJson(agent.id)).toMatchObject({
      output: { version: 'v1', secretHash: null },
      deploymentId: v1.id,
    });
    const events = await invokeStream(agent.id);
    expect(events[0]?.event).toBe('meta');
    expect(events.filter((e) => e.event === 'delta').map((e) => JSON.parse(e.data) as unknown)).toHaveLength(3);
    expect(events.at(-1)?.event).toBe('done');

    // a secret, through the CLI: the agent sees it on its next call, the api only its name and version
    await webhost('secrets', 'set', agent.name, 'CANARY_SECRET', CANARY);
    expect((await invokeJson(agent.id)).output.secretHash).toBe(sha256(CANARY));
    const listed = (await webhost('secrets', 'list', agent.name)).stdout;
    expect(listed).toMatch(/^CANARY_SECRET\tversion 1\t/);

    // a new deploy keeps the secret
    const v2 = await deployLive(agent.id, 'v2');
    expect(await invokeJson(agent.id)).toMatchObject({
      output: { version: 'v2', secretHash: sha256(CANARY) },
      deploymentId: v2.id,
    });

    // roll back (the CLI's default: the previous live deployment); the secret is still there
    const back = await webhost('rollback', agent.name);
    expect(back.stdout.trim()).toBe(v1.id);
    expect(await invokeJson(agent.id)).toMatchObject({
      output: { version: 'v1', secretHash: sha256(CANARY) },
      deploymentId: v1.id,
    });

    // refused, changing nothing: a rollback to the one serving, a foreign id, a bad secret name, a big value
    expect((await api('POST', `/v1/agents/${agent.id}/rollback`, { deploymentId: v1.id })).status).toBe(409);
    expect((await api('PUT', `/v1/agents/${agent.id}/secrets/bad-name`, { value: CANARY })).status).toBe(400);
    expect((await api('PUT', `/v1/agents/${agent.id}/secrets/BIG`, { value: CANARY.repeat(200) })).status).toBe(400);

    // delete: the gateway stops serving at once; the runtime is torn down; history is kept
    const deleted = await api<{ workflowId: string }>('DELETE', `/v1/agents/${agent.id}`);
    expect(deleted.status).toBe(202);
    const gone = await call(platform.gatewayUrl, 'POST', `/v1/agents/${agent.id}/invoke`, { input: 1 });
    expect(gone.status).toBe(404);
    expect((await api<Deployment>('GET', `/v1/deployments/${v2.id}`)).body.status).toBe('live');
    await expect.poll(() => torndown(runtime, agent), { timeout: 60_000, interval: 500 }).toBe(true);
    expect((await api('DELETE', `/v1/agents/${agent.id}`)).status).toBe(202);
  });
});

/** Whether the runtime holds nothing of the agent any more: no script, no agent runtime, no versions or state. */
function torndown(runtime: Runtime, agent: Agent): boolean {
  if (runtime === 'cloudflare') return cloudflare.scripts().length === 0;
  if (runtime === 'agentcore') return agentcore.runtime(`webhost_${agent.id}`) === null;
  const dir = join(platform.dataDir, 'runtime');
  const versions = readdirSync(join(dir, 'versions')).filter((ref) => ref.startsWith(`${agent.id}.`));
  const state = readdirSync(join(dir, 'agents')).filter((f) => f.startsWith(agent.id));
  return versions.length === 0 && state.length === 0;
}

// The hardening that lives in the gateway holds whatever the runtime: an agent that never
// answers, streams forever or answers too much is cut off at its limit. Egress is the
// runtime's own: workerd's public-only network on local and (in its fake) Cloudflare; on
// AgentCore each session runs in its own microVM, which the fake (plain Node) does not model.
describe.each(['cloudflare', 'agentcore'] as const)('the gateway’s limits hold on %s', (runtime) => {
  it('cuts off an agent that never answers, streams forever, or answers 200 MiB', async () => {
    const agent = (await api<Agent>('POST', '/v1/agents', { name: `hostile-${runtime}`, runtime })).body;
    const started = await api<{ deploymentId: string }>('POST', `/v1/agents/${agent.id}/deployments`, {
      source: HOSTILE,
    });
    await expect
      .poll(async () => (await api<Deployment>('GET', `/v1/deployments/${started.body.deploymentId}`)).body.status, {
        timeout: 120_000,
        interval: 250,
      })
      .toBe('live');
    const send = (input: string, stream = false) =>
      fetch(`${platform.gatewayUrl}/v1/agents/${agent.id}/invoke`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ input, stream }),
      });
    const hang = await send('hang');
    expect(hang.status).toBe(504);
    expect(((await hang.json()) as { error: { code: string } }).error.code).toBe('timeout');
    const endless = await send('endless', true);
    const events: { event?: string; data: string }[] = [];
    for await (const ev of endless
      .body!.pipeThrough(new TextDecoderStream())
      .pipeThrough(new EventSourceParserStream()))
      events.push(ev);
    expect(events.at(-1)?.event).toBe('error');
    expect(JSON.parse(events.at(-1)!.data)).toMatchObject({ code: 'timeout' });
    const huge = await send('huge');
    expect(huge.status).toBe(502);
    expect(((await huge.json()) as { error: { code: string } }).error.code).toBe('reply_too_large');
  });
});

describe('egress on cloudflare (fake)', () => {
  it('finds the platform’s loopback services closed to its agent', async () => {
    const agent = (await api<Agent>('POST', '/v1/agents', { name: 'prober-cloudflare', runtime: 'cloudflare' })).body;
    const started = await api<{ deploymentId: string }>('POST', `/v1/agents/${agent.id}/deployments`, {
      source: PROBER,
    });
    await expect
      .poll(async () => (await api<Deployment>('GET', `/v1/deployments/${started.body.deploymentId}`)).body.status, {
        timeout: 120_000,
        interval: 250,
      })
      .toBe('live');
    const targets = [platform.ports.api, platform.ports.temporalUi, platform.ports.runtime].map((port) => ({
      host: '127.0.0.1',
      port,
    }));
    const res = await call<{ output: { reached: boolean; via: string; port: number }[] }>(
      platform.gatewayUrl,
      'POST',
      `/v1/agents/${agent.id}/invoke`,
      { input: { targets } },
    );
    expect(res.status).toBe(200);
    expect(res.body.output).toHaveLength(6);
    expect(res.body.output.filter((r) => r.reached)).toEqual([]);
  });
});

describe('the canary secret appears nowhere the platform keeps or says anything', () => {
  const forms = [CANARY, Buffer.from(CANARY).toString('base64'), Buffer.from(CANARY).toString('hex')];
  const expectAbsent = (where: string, text: string | Buffer) => {
    for (const form of forms)
      expect(text.includes(form), `${where} holds the canary (${form.slice(0, 12)}…)`).toBe(false);
  };

  it('in api and gateway answers and errors, and in the logs', () => {
    expect(agents.size).toBe(3);
    expectAbsent('an api or gateway answer', answers.join('\n'));
    expectAbsent('the platform’s output', platform.output());
  });

  it('in the Temporal history as the server stores it (read without the codec)', async () => {
    const connection = await Connection.connect({ address: `127.0.0.1:${platform.ports.temporal}` });
    try {
      const client = new Client({ connection });
      let secretWorkflows = 0;
      for await (const wf of client.workflow.list()) {
        const history = JSON.stringify(await client.workflow.getHandle(wf.workflowId, wf.runId).fetchHistory());
        expectAbsent(`history of ${wf.workflowId}`, history);
        if (wf.workflowId.startsWith('secret-')) secretWorkflows++;
      }
      expect(secretWorkflows).toBe(3);
    } finally {
      await connection.close();
    }
  });

  it('in every table of the state store, and in every file of the data folder', async () => {
    await platform.stop();
    const db = new PGlite(join(platform.dataDir, 'pg'));
    try {
      const { rows: tables } = await db.query<{ table_name: string }>(
        `select table_name from information_schema.tables where table_schema = 'public'`,
      );
      expect(tables.map((t) => t.table_name)).toContain('secret_metadata');
      for (const { table_name } of tables) {
        const { rows } = await db.query(`select * from "${table_name}"`);
        expectAbsent(`table ${table_name}`, JSON.stringify(rows));
      }
    } finally {
      await db.close();
    }
    const walk = (dir: string): string[] =>
      readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
        e.isDirectory() ? walk(join(dir, e.name)) : e.isFile() ? [join(dir, e.name)] : [],
      );
    const files = walk(platform.dataDir);
    expect(files.some((f) => f.includes('artifacts'))).toBe(true);
    for (const file of files) expectAbsent(file, readFileSync(file));
  });
});
