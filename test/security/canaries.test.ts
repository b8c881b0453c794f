import { createHash, createHmac, randomBytes } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import type { Payload } from '@temporalio/common';
import { historyToJSON } from '@temporalio/common/lib/proto-utils.js';
import { EventSourceParserStream } from 'eventsource-parser/stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Agent, CreatedApiKey } from '../../lib/contracts/index.js';
import { loadMasterKey, payloadCodecKey } from '../../lib/auth/platform-keys.js';
import { EncryptionCodec } from '../../lib/temporal/codec.js';
import { agentSource } from '../helpers/fixtures.js';
import { startSecurityPlatform } from './platform.js';

// Secret canaries, after the whole user flow, on every surface at once: every row of every
// table of the store, every line the platform's processes wrote (api, gateway, worker, local
// runtime), every answer the flow received, and every Temporal workflow history as the server
// keeps it (read without the codec) — as the plain value, hex, and base64 / base64url at every
// alignment. test/e2e/runtimes.test.ts checks one canary across runtimes; this one follows more
// of the flow (rotation, streaming, rollback, API keys, deletions, refusals that quote nothing)
// on PostgreSQL, and proves each surface is searched by finding a planted control in it.

const sec = await startSecurityPlatform('the secret canary search', { LOG_LEVEL: 'debug' });

const canary = (what: string) => `cnry-${what}-${randomBytes(16).toString('hex')}`;
const CANARIES = {
  first: canary('first'),
  second: canary('second'),
  rotated: canary('rotated'),
  refused: canary('refused'),
  other: canary('other'),
};
/** Planted where each surface must show it: proves the search of that surface can find something. */
const CONTROL = `ctl-${randomBytes(16).toString('hex')}`;

/** The forms a value can take in text: itself, hex, and base64 / base64url at each of the three alignments. */
function forms(value: string): string[] {
  const bytes = Buffer.from(value);
  const out = [value, bytes.toString('hex'), bytes.toString('hex').toUpperCase()];
  for (let pad = 0; pad < 3; pad++) {
    const b64 = Buffer.concat([Buffer.alloc(pad), bytes]).toString('base64');
    // the first and last groups of four depend on the bytes around the value: left out
    const middle = b64.slice(4, b64.length - 4);
    out.push(middle, middle.replaceAll('+', '-').replaceAll('/', '_'));
  }
  return out;
}
const holds = (text: string, value: string) => forms(value).some((f) => text.includes(f));

const agentCode = (version: string) =>
  agentSource(`const VERSION = ${JSON.stringify(version)};
const hex = async (s) => s === undefined ? null : [...new Uint8Array(await crypto.subtle.digest('SHA-256',
  new TextEncoder().encode(s)))].map((b) => b.toString(16).padStart(2, '0')).join('');
export default { async fetch(req, env) {
  if (new URL(req.url).pathname === '/ping') return new Response('ok');
  const { input } = await req.json();
  // what an agent may well log about its secrets: their lengths; and the control, to be found
  console.log('secret lengths', env.FIRST_SECRET?.length ?? 0, env.SECOND_SECRET?.length ?? 0, ${JSON.stringify(CONTROL)});
  const output = { version: VERSION, input, first: await hex(env.FIRST_SECRET), second: await hex(env.SECOND_SECRET) };
  if ((req.headers.get('accept') ?? '').includes('text/event-stream')) {
    const enc = new TextEncoder();
    return new Response(new ReadableStream({ start(c) {
      c.enqueue(enc.encode('data: ' + JSON.stringify({ delta: output }) + '\\n\\n'));
      c.close();
    } }), { headers: { 'content-type': 'text/event-stream' } });
  }
  return Response.json({ output });
} }`);

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

describe.runIf(sec !== null)('secret canaries after the whole flow', () => {
  let token: string;
  let apiKey: CreatedApiKey;
  let agent: Agent;
  let midFlow: Record<string, string[]>;
  const answers = () => sec!.answers;

  beforeAll(async () => {
    token = await sec!.platform.token(`canary-user-${randomBytes(4).toString('hex')}`);
  });
  afterAll(async () => sec?.stop());

  const call = <T>(method: string, path: string, body?: unknown, service: 'api' | 'gateway' = 'api') =>
    sec!.call<T>(token, method, path, body, service);

  async function invoke(expected: { version: string; first: string | null; second: string | null }) {
    const res = await call<{ output: { version: string; first: string; second: string } }>(
      'POST',
      `/v1/agents/${agent.id}/invoke`,
      { input: 'json' },
      'gateway',
    );
    expect(res.status, res.text).toBe(200);
    expect(res.body.output).toMatchObject(expected);
    const stream = await fetch(`${sec!.platform.gatewayUrl}/v1/agents/${agent.id}/invoke`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ input: 'stream', stream: true }),
      signal: AbortSignal.timeout(30_000),
    });
    expect(stream.status).toBe(200);
    const events: string[] = [];
    const reader = stream
      .body!.pipeThrough(new TextDecoderStream())
      .pipeThrough(new EventSourceParserStream())
      .getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      events.push(`${value.event ?? 'message'} ${value.data}`);
    }
    answers().push(events.join('\n'));
    expect(events.join('\n')).toContain(expected.version);
  }

  async function setSecret(name: string, value: string) {
    const res = await call<{ version: number }>('PUT', `/v1/agents/${agent.id}/secrets/${name}`, { value });
    expect(res.status, res.text).toBe(200);
  }

  it('runs the flow: secrets set and rotated, deploys, JSON and streamed invokes, logs, rollback, API keys, deletions', async () => {
    // the live feed the dashboard follows, read for the whole flow: its events are answers too
    const feed = new AbortController();
    const events = await fetch(`${sec!.platform.apiUrl}/v1/events`, {
      headers: { authorization: `Bearer ${token}`, accept: 'text/event-stream' },
      signal: feed.signal,
    });
    expect(events.status).toBe(200);
    let feedText = '';
    const feedDone = (async () => {
      try {
        for await (const chunk of events.body!.pipeThrough(new TextDecoderStream())) feedText += chunk;
      } catch {
        // aborted at the end of the flow
      }
    })();
    const created = await call<Agent>('POST', '/v1/agents', { name: 'canary-agent', runtime: 'local' });
    expect(created.status, created.text).toBe(201);
    agent = created.body;
    await setSecret('FIRST_SECRET', CANARIES.first);
    await setSecret('SECOND_SECRET', CANARIES.second);
    const v1 = await sec!.deploy(token, agent.id, agentCode('v1'));
    expect(v1.status, JSON.stringify(v1.error)).toBe('live');
    await invoke({ version: 'v1', first: sha256(CANARIES.first), second: sha256(CANARIES.second) });

    await setSecret('FIRST_SECRET', CANARIES.rotated);
    await invoke({ version: 'v1', first: sha256(CANARIES.rotated), second: sha256(CANARIES.second) });
    const v2 = await sec!.deploy(token, agent.id, agentCode('v2'));
    expect(v2.status).toBe('live');
    await invoke({ version: 'v2', first: sha256(CANARIES.rotated), second: sha256(CANARIES.second) });

    const rollback = await call<{ workflowId: string }>('POST', `/v1/agents/${agent.id}/rollback`, {
      deploymentId: v1.id,
    });
    expect(rollback.status, rollback.text).toBe(202);
    await waitFor(async () => (await call<Agent>('GET', `/v1/agents/${agent.id}`)).body.activeDeploymentId === v1.id);
    await invoke({ version: 'v1', first: sha256(CANARIES.rotated), second: sha256(CANARIES.second) });

    // refusals that had a canary in the request quote none of it
    expect((await call('PUT', `/v1/agents/${agent.id}/secrets/bad-name`, { value: CANARIES.refused })).status).toBe(
      400,
    );
    expect(
      (await call('PUT', `/v1/agents/${agent.id}/secrets/OK_NAME`, { value: CANARIES.refused, x: 1 })).status,
    ).toBe(400);
    expect((await call('PUT', `/v1/agents/agt_nobody/secrets/OK_NAME`, { value: CANARIES.refused })).status).toBe(404);
    const otherToken = await sec!.platform.token('canary-other');
    expect(
      (await sec!.call(otherToken, 'PUT', `/v1/agents/${agent.id}/secrets/STOLEN`, { value: CANARIES.other })).status,
    ).toBe(404);

    // the agent's lines (secret lengths and the control) reach the store through the shim
    await waitFor(async () => {
      const page = await call('GET', `/v1/agents/${agent.id}/logs`);
      return JSON.stringify(page.body).includes(CONTROL);
    });

    const key = await call<CreatedApiKey>('POST', '/v1/api-keys', { name: 'canary key', agentId: agent.id });
    expect(key.status, key.text).toBe(201);
    apiKey = key.body;
    const byKey = await fetch(`${sec!.platform.gatewayUrl}/v1/agents/${agent.id}/invoke`, {
      method: 'POST',
      headers: { 'x-api-key': apiKey.key, 'content-type': 'application/json' },
      body: JSON.stringify({ input: 'by key' }),
    });
    answers().push(await byKey.text());
    expect(byKey.status).toBe(200);
    expect((await call('DELETE', `/v1/api-keys/${apiKey.id}`)).status).toBeLessThan(300);
    const revoked = await fetch(`${sec!.platform.gatewayUrl}/v1/agents/${agent.id}/invoke`, {
      method: 'POST',
      headers: { 'x-api-key': apiKey.key, 'content-type': 'application/json' },
      body: JSON.stringify({ input: 'revoked' }),
    });
    answers().push(await revoked.text());
    expect(revoked.status).toBe(401);

    // a control in the platform's own log: an ignored (but signed) billing event is logged by name
    const event = JSON.stringify({ meta: { event_name: CONTROL }, data: { type: 'x', id: '1', attributes: {} } });
    const webhook = await fetch(`${sec!.platform.apiUrl}/webhooks/lemonsqueezy`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-signature': createHmac('sha256', sec!.webhookSecret).update(event).digest('hex'),
      },
      body: event,
    });
    expect(webhook.status, await webhook.text()).toBe(200);

    // the tables now, while the agent, its secrets' metadata and its log lines are all there
    midFlow = await sec!.store.dump();
    expect(JSON.stringify(midFlow.log_lines)).toContain(CONTROL);
    expect((await call('DELETE', `/v1/agents/${agent.id}/secrets/SECOND_SECRET`)).status).toBeLessThan(300);
    const listed = await call<{ items: { name: string }[] }>('GET', `/v1/agents/${agent.id}/secrets`);
    expect(listed.body.items.map((s) => s.name)).toEqual(['FIRST_SECRET']);
    expect((await call('DELETE', `/v1/agents/${agent.id}`)).status).toBe(202);
    await new Promise((r) => setTimeout(r, 1000)); // the feed's last events
    feed.abort();
    await feedDone;
    expect(feedText).toContain(agent.id);
    answers().push(feedText);
  });

  it('finds no canary in any table, log line, answer or workflow history, and finds the controls in each', async () => {
    expect(agent, 'the flow ran').toBeDefined();
    // every workflow of the run has ended (the delete's teardown included) before anything is read
    const connection = await Connection.connect({ address: `127.0.0.1:${sec!.platform.ports.temporal}` });
    const histories: { id: string; text: string }[] = [];
    const payloads: Payload[] = [];
    const allPayloads: Payload[] = [];
    try {
      const client = new Client({ connection }); // no codec: the history as the server keeps it
      const ids: { workflowId: string; runId: string }[] = [];
      for await (const wf of client.workflow.list()) ids.push({ workflowId: wf.workflowId, runId: wf.runId });
      expect(ids.map((w) => w.workflowId)).toEqual(expect.arrayContaining([`delete-${agent.id}`]));
      for (const { workflowId, runId } of ids) {
        const handle = client.workflow.getHandle(workflowId, runId);
        await Promise.race([
          handle.result().catch(() => undefined),
          new Promise((_, reject) =>
            setTimeout(() => reject(new Error(`${workflowId} still running after 60 s`)), 60_000),
          ),
        ]);
        const history = await handle.fetchHistory();
        // proto JSON: bytes (every payload) as base64, as Temporal's own tools print a history
        histories.push({ id: workflowId, text: historyToJSON(history) });
        if (workflowId.startsWith('secret-')) payloadsIn(history, payloads);
        payloadsIn(history, allPayloads);
      }
    } finally {
      await connection.close();
    }
    const secretWorkflows = histories.filter((h) => h.id.startsWith('secret-')).length;
    expect(secretWorkflows, 'set ×3 and delete ×1').toBe(4);

    // every payload of every history as Temporal UI shows it: through the api's codec server
    const b64 = (b: Uint8Array | null | undefined) => Buffer.from(b ?? []).toString('base64');
    let decoded = 0;
    for (let i = 0; i < allPayloads.length; i += 500) {
      const chunk = allPayloads.slice(i, i + 500).map((p) => ({
        metadata: Object.fromEntries(Object.entries(p.metadata ?? {}).map(([k, v]) => [k, b64(v)])),
        data: b64(p.data),
      }));
      const res = await fetch(`${sec!.platform.apiUrl}/codec/decode`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-namespace': 'default' },
        body: JSON.stringify({ payloads: chunk }),
      });
      const text = await res.text();
      expect(res.status, text).toBe(200);
      decoded += chunk.length;
      answers().push(text);
    }

    const dump = await sec!.store.dump();
    const rows = [
      ...Object.entries(midFlow).flatMap(([table, r]) =>
        r.map((text) => ({ where: `table ${table} (mid-flow)`, text })),
      ),
      ...Object.entries(dump).flatMap(([table, r]) =>
        r.map((text) => ({ where: `table ${table} (at the end)`, text })),
      ),
    ];
    const lines = sec!.platform
      .output()
      .split('\n')
      .map((text, i) => ({ where: `log line ${i + 1}`, text }));
    const said = answers().map((text, i) => ({ where: `answer ${i + 1}`, text }));
    const surfaces = {
      tables: rows,
      'log lines': lines,
      answers: said,
      histories: histories.map((h) => ({ where: `history of ${h.id}`, text: h.text })),
    };

    // The API key is a secret too, but its creation answers it, once: searched everywhere else.
    const secrets: [string, string, (keyof typeof surfaces)[]][] = [
      ...Object.entries(CANARIES).map(
        ([name, value]) => [name, value, Object.keys(surfaces)] as [string, string, never],
      ),
      ['the API key', apiKey.key, ['tables', 'log lines', 'histories']],
    ];
    const found: string[] = [];
    for (const [name, value, where] of secrets)
      for (const surface of where)
        for (const { where: place, text } of surfaces[surface])
          if (holds(text, value)) found.push(`${name} in ${place}: …${excerpt(text, value)}…`);

    // controls: each surface is searched for real — the planted control is found where it must
    // be, and in histories the agent's id in base64 alone (JSON in the search attributes'
    // payloads), so the encoded forms are searched too
    const controls: [string, string, keyof typeof surfaces, string[]][] = [
      ['the agent’s logged control', CONTROL, 'tables', forms(CONTROL)],
      ['the agent’s logged control', CONTROL, 'answers', forms(CONTROL)],
      ['the ignored billing event’s name', CONTROL, 'log lines', forms(CONTROL)],
      ['the agent id, base64 only', agent.id, 'histories', forms(agent.id).slice(3)],
      [
        'a redacted secret in the codec server’s answers',
        '"value":"[redacted]"',
        'answers',
        forms('"value":"[redacted]"'),
      ],
    ];
    expect(decoded).toBe(allPayloads.length);
    const missing = controls.filter(
      ([, , surface, wanted]) => !surfaces[surface].some(({ text }) => wanted.some((f) => text.includes(f))),
    );
    // and the secrets are in the secret workflows' histories, sealed: the platform's key opens them
    const codec = new EncryptionCodec(payloadCodecKey(loadMasterKey({}, sec!.platform.dataDir)));
    const opened = (await codec.decode(payloads)).map((p) => Buffer.from(p.data ?? []).toString()).join('\n');
    for (const name of ['first', 'second', 'rotated'] as const)
      if (!opened.includes(CANARIES[name]))
        missing.push([`the ${name} canary, decrypted`, CANARIES[name], 'histories', [CANARIES[name]]]);

    console.log(
      `canaries: ${secrets.length} canaries × {${Object.keys(dump).length} tables (${rows.length} rows, mid-flow and at the end), ` +
        `${lines.length} log lines, ${said.length} answers (${allPayloads.length} payloads decoded by the codec server among them), ${histories.length} histories} → ${found.length} found; ` +
        `${controls.length + 3 - missing.length} of ${controls.length + 3} controls found (3 canaries decrypted from ${payloads.length} payloads)`,
    );
    expect(found).toEqual([]);
    expect(missing.map(([what, , surface]) => `${what} not found in ${surface}`)).toEqual([]);
  });
});

/** The payloads of a history, wherever they sit in its events. */
function payloadsIn(x: unknown, out: Payload[]): Payload[] {
  if (x && typeof x === 'object') {
    if ('data' in x && x.data instanceof Uint8Array && 'metadata' in x) out.push(x as Payload);
    else for (const v of Object.values(x)) payloadsIn(v, out);
  }
  return out;
}

function excerpt(text: string, value: string): string {
  const form = forms(value).find((f) => text.includes(f))!;
  const at = text.indexOf(form);
  return text.slice(Math.max(0, at - 60), at + form.length + 20);
}

async function waitFor(check: () => Promise<boolean>, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`not so after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 250));
  }
}
