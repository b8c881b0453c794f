import { readFileSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { EventSourceParserStream } from 'eventsource-parser/stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorEnvelope, type Agent, type Deployment, type FilesSource } from '../../lib/contracts/index.js';
import { INVOKE_TOKEN_HEADER } from '../../lib/runtime/shim/index.js';
import { PermanentFailure } from '../../workflows/failures.js';
import { echoVersion } from '../helpers/fixtures.js';
import { startPlatform, type RunningPlatform } from '../helpers/platform.js';
import { freePort } from '../helpers/ports.js';
import { BUNDLER_CRASHERS, HOSTILE, LOOPS_AT_START, PROBER } from './agents.js';

// A hostile tenant against the embedded platform, as `npm start` runs it (real processes,
// real workerd), while another tenant goes about its business. Limits are shortened so the
// suite runs in minutes; the heap keeps its default (128 MiB). Only loopback is ever a target.

const LIMITS = {
  WEBHOST_AGENT_PROCESS_MEMORY_MB: '512',
  WEBHOST_AGENT_CPU_MS: '2000',
  WEBHOST_INVOKE_TIMEOUT_MS: '12000',
  WEBHOST_STREAM_MAX_MS: '4000',
  WEBHOST_AGENT_STARTUP_MS: '4000',
};

let platform: RunningPlatform;
let mallory: string;
let victim: string;

beforeAll(async () => {
  platform = await startPlatform({ env: LIMITS });
  mallory = await platform.token('mallory');
  victim = await platform.token('victim');
});
afterAll(async () => platform?.stop());

async function api<T>(
  token: string,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; body: T }> {
  const res = await fetch(`${platform.apiUrl}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: body === undefined ? null : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as T };
}

async function createAgent(token: string, name: string): Promise<Agent> {
  const res = await api<Agent>(token, 'POST', '/v1/agents', { name, runtime: 'local' });
  expect(res.status).toBe(201);
  return res.body;
}

/** Deploys and waits for the deployment to end; returns it and how long it took. */
async function deploy(token: string, agentId: string, source: FilesSource) {
  const started = performance.now();
  const res = await api<{ deploymentId: string }>(token, 'POST', `/v1/agents/${agentId}/deployments`, { source });
  expect(res.status).toBe(202);
  let deployment: Deployment;
  for (;;) {
    deployment = (await api<Deployment>(token, 'GET', `/v1/deployments/${res.body.deploymentId}`)).body;
    if (['live', 'failed', 'canceled'].includes(deployment.status)) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  return { deployment, ms: performance.now() - started };
}

function invoke(token: string, agentId: string, body: unknown) {
  return fetch(`${platform.gatewayUrl}/v1/agents/${agentId}/invoke`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
}

/** The workerd address of a deployment's version, from the local runtime's control API (the platform's view). */
async function versionUrl(deployment: Deployment): Promise<string> {
  const token = readFileSync(join(platform.dataDir, 'runtime', 'control-token'), 'utf8').trim();
  const res = await fetch(
    `http://127.0.0.1:${platform.ports.runtime}/versions/${encodeURIComponent(deployment.providerRef!)}/endpoint`,
    {
      headers: { authorization: `Bearer ${token}` },
    },
  );
  return ((await res.json()) as { url: string }).url;
}

async function envelope(res: Response) {
  return ErrorEnvelope.parse(await res.json()).error;
}

/** A TCP listener on a loopback address that counts who connects. */
async function canary(host: string): Promise<{ port: number; connections: () => number; close: () => Promise<void> }> {
  let count = 0;
  const server: Server = createServer((socket) => {
    count++;
    socket.end('HTTP/1.0 200 OK\r\n\r\ncanary');
  });
  const port = await freePort();
  await new Promise<void>((resolve) => server.listen(port, host, resolve));
  return { port, connections: () => count, close: () => new Promise((r) => server.close(() => r())) };
}

const p50 = (ms: number[]) => [...ms].sort((a, b) => a - b)[Math.floor(ms.length / 2)]!;

describe('a hostile tenant cannot reach the platform or other tenants', () => {
  it('finds every loopback service closed to its agent, over HTTP and raw TCP, IPv4 and IPv6, by name and by address', async () => {
    const victimAgent = await createAgent(victim, 'neighbour');
    const neighbour = (await deploy(victim, victimAgent.id, echoVersion('v1'))).deployment;
    const neighbourPort = Number(new URL(await versionUrl(neighbour)).port);
    const v4 = await canary('127.0.0.1');
    const v6 = await canary('::1');
    try {
      const ports: Record<string, number> = {
        api: platform.ports.api,
        gateway: platform.ports.gateway,
        'runtime control API': platform.ports.runtime,
        'Temporal UI and HTTP API': platform.ports.temporalUi,
        'Temporal gRPC': platform.ports.temporal,
        PostgreSQL: 5432,
        Redis: 6379,
        "another tenant's workerd": neighbourPort,
        'canary (IPv4)': v4.port,
      };
      const targets = [
        ...Object.entries(ports).flatMap(([what, port]) =>
          ['127.0.0.1', 'localhost', '0.0.0.0', '::ffff:127.0.0.1', '127.1'].map((host) => ({ what, host, port })),
        ),
        { what: 'canary (IPv6)', host: '::1', port: v6.port },
        { what: 'canary (IPv6)', host: '::', port: v6.port },
      ];
      const prober = await createAgent(mallory, 'prober');
      expect((await deploy(mallory, prober.id, PROBER)).deployment.status).toBe('live');
      const res = await invoke(mallory, prober.id, { input: { targets } });
      expect(res.status).toBe(200);
      const { output } = (await res.json()) as {
        output: { what: string; host: string; via: string; reached: boolean; detail: string }[];
      };
      expect(output).toHaveLength(targets.length * 2);
      const reached = output.filter((r) => r.reached);
      expect(reached, JSON.stringify(reached, null, 1)).toEqual([]);
      expect(v4.connections() + v6.connections()).toBe(0);
    } finally {
      await v4.close();
      await v6.close();
    }
  });

  it('refuses a direct call to a version’s own port without the gateway’s invoke token', async () => {
    const agent = await createAgent(victim, 'direct');
    const { deployment } = await deploy(victim, agent.id, echoVersion('v1'));
    const url = new URL('/invocations', await versionUrl(deployment));
    const body = JSON.stringify({ input: 'sneaky' });
    for (const headers of [{}, { [INVOKE_TOKEN_HEADER]: 'forged' }] as Record<string, string>[]) {
      const res = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body,
      });
      expect(res.status).toBe(401);
      expect(await res.text()).not.toContain('sneaky');
    }
    expect((await invoke(victim, agent.id, { input: 'fine' })).status).toBe(200);
  });
});

describe('a hostile tenant cannot stall, starve or crash another', () => {
  it('ends every attack within its limit while another tenant deploys and invokes as usual', async () => {
    // one agent per attack: a limit stops the whole version, and each attack should be seen alone
    const hostile = Object.fromEntries(
      await Promise.all(
        ['memory', 'heap', 'cpu', 'hang', 'endless', 'huge'].map(async (mode) => {
          const agent = await createAgent(mallory, `hostile-${mode}`);
          expect((await deploy(mallory, agent.id, HOSTILE)).deployment.status).toBe('live');
          return [mode, agent.id] as const;
        }),
      ),
    );
    const neighbour = await createAgent(victim, 'busy-neighbour');

    /** The other tenant's ordinary work: a deploy, then 40 invokes in a row. */
    const tenantWork = async (version: string) => {
      const { deployment, ms: deployMs } = await deploy(victim, neighbour.id, echoVersion(version));
      expect(deployment.status).toBe('live');
      const times: number[] = [];
      for (let i = 0; i < 40; i++) {
        const started = performance.now();
        const res = await invoke(victim, neighbour.id, { input: i });
        expect(res.status).toBe(200);
        await res.json();
        times.push(performance.now() - started);
      }
      return { deployMs, p50: p50(times) };
    };

    const quiet = await tenantWork('v1');

    const attacks = {
      'memory hog (ArrayBuffers)': async () => {
        const res = await invoke(mallory, hostile.memory!, { input: 'memory' });
        expect(res.status).toBe(503);
        expect((await envelope(res)).message).toContain('memory limit');
      },
      'memory hog (JavaScript objects)': async () => {
        const res = await invoke(mallory, hostile.heap!, { input: 'heap' });
        // V8 aborts it at its heap limit, unless its collector, thrashing near that limit, runs
        // past the CPU limit first (shortened to 2 s here), or, on a machine busy with other
        // work, the call outlasts the invoke time limit first: cut off either way, saying why
        const err = await envelope(res);
        if (res.status === 504) expect(err.code).toBe('timeout');
        else {
          expect(res.status).toBe(503);
          expect(err.message).toMatch(/out of memory|CPU limit/);
        }
      },
      'CPU hog (a busy loop)': async () => {
        const res = await invoke(mallory, hostile.cpu!, { input: 'cpu' });
        expect(res.status).toBe(503);
        expect((await envelope(res)).message).toContain('CPU limit');
      },
      'an agent that never answers': async () => {
        const res = await invoke(mallory, hostile.hang!, { input: 'hang' });
        expect(res.status).toBe(504);
        expect((await envelope(res)).code).toBe('timeout');
      },
      'an endless stream': async () => {
        const res = await invoke(mallory, hostile.endless!, { input: 'endless', stream: true });
        const events: { event?: string; data: string }[] = [];
        for await (const ev of res
          .body!.pipeThrough(new TextDecoderStream())
          .pipeThrough(new EventSourceParserStream()))
          events.push(ev);
        expect(events.at(-1)?.event).toBe('error');
        expect(JSON.parse(events.at(-1)!.data)).toMatchObject({ code: 'timeout' });
      },
      'a 200 MiB reply': async () => {
        const res = await invoke(mallory, hostile.huge!, { input: 'huge' });
        expect(res.status).toBe(502);
        expect((await envelope(res)).code).toBe('reply_too_large');
      },
      'a module whose top level never ends': async () => {
        const looping = await createAgent(mallory, 'loops-at-start');
        const { deployment } = await deploy(mallory, looping.id, LOOPS_AT_START);
        expect(deployment).toMatchObject({ status: 'failed', error: { code: PermanentFailure.AgentStartTimedOut } });
        expect(deployment.error!.message).toContain('startup limit');
      },
      ...Object.fromEntries(
        Object.entries(BUNDLER_CRASHERS).map(([what, source]) => [
          `a source that breaks the bundler (${what})`,
          async () => {
            const agent = await createAgent(mallory, `crasher-${Object.keys(BUNDLER_CRASHERS).indexOf(what)}`);
            const { deployment } = await deploy(mallory, agent.id, source);
            expect(deployment).toMatchObject({ status: 'failed', error: { code: PermanentFailure.BuildFailed } });
            expect(deployment.error!.message).toMatch(/^bundle: the (build|bundler)/);
          },
        ]),
      ),
    };

    const ended: Record<string, number> = {};
    const attacking = Promise.all(
      Object.entries(attacks).map(async ([what, attack]) => {
        const started = performance.now();
        await attack();
        ended[what] = performance.now() - started;
      }),
    );
    const underAttack = await tenantWork('v2');
    await attacking;

    // The attacker's agents serve again once the limits stopped them,
    for (const agentId of Object.values(hostile))
      expect((await invoke(mallory, agentId, { input: 'nothing' })).status).toBe(200);
    // and the next deploy of anyone's builds normally.
    expect((await deploy(mallory, hostile.memory!, HOSTILE)).deployment.status).toBe('live');

    console.log('\nthe other tenant, without and during the attacks:');
    console.log(`  deploy      ${quiet.deployMs.toFixed(0)} ms  →  ${underAttack.deployMs.toFixed(0)} ms`);
    console.log(`  invoke p50  ${quiet.p50.toFixed(1)} ms  →  ${underAttack.p50.toFixed(1)} ms`);
    console.log('each attack ended after:');
    for (const [what, ms] of Object.entries(ended)) console.log(`  ${what.padEnd(60)} ${(ms / 1000).toFixed(1)} s`);
  });
});

describe('nothing is left behind', () => {
  it('releases the agent’s connections when JSON callers leave, and stops a deleted agent’s processes within seconds', async () => {
    const agent = await createAgent(mallory, 'abandoned');
    const { deployment } = await deploy(mallory, agent.id, HOSTILE);
    const port = Number(new URL(await versionUrl(deployment)).port);
    const before = connectionsTo(port);
    // Twenty callers send an invoke the agent never answers, then hang up (their sockets close).
    const gateway = new URL(platform.gatewayUrl);
    const body = JSON.stringify({ input: 'hang' });
    const callers = await Promise.all(
      Array.from({ length: 20 }, () => {
        const socket = connect(Number(gateway.port), gateway.hostname);
        socket.on('error', () => undefined);
        return new Promise<Socket>((resolve) =>
          socket.once('connect', () => {
            socket.write(
              `POST /v1/agents/${agent.id}/invoke HTTP/1.1\r\nhost: ${gateway.host}\r\nauthorization: Bearer ${mallory}\r\n` +
                `content-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
            );
            resolve(socket);
          }),
        );
      }),
    );
    // at least one connection for each invoke held open (some may reuse idle ones)
    await expect.poll(() => connectionsTo(port), { timeout: 5_000 }).toBeGreaterThanOrEqual(20);
    for (const socket of callers) socket.destroy();
    // The connections that carried them close at once; undici then opens idle ones to find the
    // aborted requests aborted, which close after the pool's 4 s keep-alive.
    await expect.poll(() => connectionsTo(port), { timeout: 8_000, interval: 200 }).toBeLessThanOrEqual(before);

    expect((await api(mallory, 'DELETE', `/v1/agents/${agent.id}`)).status).toBe(202);
    await expect.poll(() => listening(port), { timeout: 10_000, interval: 200 }).toBe(false);
  });
});

/** Established connections to a loopback port, from any process (/proc/net/tcp), counted from the connecting side. */
function connectionsTo(port: number): number {
  const hex = port.toString(16).toUpperCase().padStart(4, '0');
  return tcpLines().filter((cols) => cols[2]?.endsWith(`:${hex}`) && cols[3] === '01').length;
}

/** Whether anything listens on a loopback port. */
function listening(port: number): boolean {
  const hex = port.toString(16).toUpperCase().padStart(4, '0');
  return tcpLines().some((cols) => cols[1]?.endsWith(`:${hex}`) && cols[3] === '0A');
}

function tcpLines(): string[][] {
  return ['/proc/net/tcp', '/proc/net/tcp6']
    .flatMap((f) => readFileSync(f, 'utf8').trim().split('\n').slice(1))
    .map((line) => line.trim().split(/\s+/));
}
