import { execFileSync, spawn } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { EventSourceParserStream } from 'eventsource-parser/stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Agent, Deployment } from '../../lib/contracts/index.js';
import { jsonApi } from '../helpers/http.js';
import { startPlatform, type RunningPlatform } from '../helpers/platform.js';

// Real agent projects, deployed as they are: examples/ai-sdk (Vercel AI SDK + Hono, its
// dependencies installed from the npm registry) through `webhost deploy <dir>`, then from a
// file:// git repository, against the real platform processes.

const root = resolve(import.meta.dirname, '../..');
const example = join(root, 'examples/ai-sdk');
let platform: RunningPlatform;
let token: string;
let gitRoot: string;

beforeAll(async () => {
  gitRoot = mkdtempSync(join(tmpdir(), 'wh-e2e-repos-'));
  platform = await startPlatform({ env: { WEBHOST_GIT_LOCAL_ROOTS: gitRoot } });
  token = await platform.token('e2e-projects');
});
afterAll(async () => platform?.stop());

const api = jsonApi(() => ({ url: platform.apiUrl, token }));

async function deploy(agentId: string, source: unknown): Promise<Deployment> {
  const started = await api<{ deploymentId: string }>('POST', `/v1/agents/${agentId}/deployments`, { source });
  expect(started.status).toBe(202);
  let d: Deployment | undefined;
  await expect
    .poll(
      async () => {
        d = (await api<Deployment>('GET', `/v1/deployments/${started.body.deploymentId}`)).body;
        return ['live', 'failed'].includes(d.status);
      },
      { timeout: 90_000, interval: 250 },
    )
    .toBe(true);
  return d!;
}

const invoke = (agentId: string, input: unknown, stream = false) =>
  fetch(`${platform.gatewayUrl}/v1/agents/${agentId}/invoke`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ input, stream }),
  });

/** `webhost deploy <dir>`, as a user runs it; its stdout is the agent id, stderr says what happened. */
const cliDeploy = (dir: string, name: string) => cli(['deploy', dir, '--name', name]);

/** The `webhost` CLI, as a user runs it. */
function cli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(root, 'scripts/webhost.ts'), ...args], {
    cwd: root,
    env: { ...process.env, API_URL: platform.apiUrl, GATEWAY_URL: platform.gatewayUrl, WEBHOST_TOKEN: token },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), 110_000);
  return new Promise((r) =>
    child.once('close', (code) => {
      clearTimeout(timer);
      r({ code, stdout, stderr });
    }),
  );
}

describe('an AI SDK + Hono project, deployed as it is', () => {
  let agentId: string;
  const timings: Record<string, number> = {};

  it('deploys from its folder with `webhost deploy`, installing its dependencies, and records the framework', async () => {
    const started = performance.now();
    const run = await cliDeploy(example, 'ai-sdk');
    timings.cold = performance.now() - started;
    expect(run.stderr).toContain('live (framework: ai-sdk)');
    expect(run.code).toBe(0);
    agentId = run.stdout.trim();
    const agent = (await api<Agent>('GET', `/v1/agents/${agentId}`)).body;
    const live = (await api<Deployment>('GET', `/v1/deployments/${agent.activeDeploymentId}`)).body;
    expect(live).toMatchObject({ status: 'live', sourceType: 'files', framework: 'ai-sdk', commitSha: null });
  });

  it('answers JSON through the gateway, with the model’s usage', async () => {
    const res = await invoke(agentId, 'hello agent');
    expect(res.status).toBe(200);
    const body = (await res.json()) as { output: { text: string }; usage: unknown };
    expect(body.output.text).toMatch(/^You said: hello agent\. This answer comes from the AI SDK mock model/);
  });

  it('streams the AI SDK UI message stream through the gateway as delta events', async () => {
    const res = await invoke(agentId, 'stream please', true);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/event-stream');
    const events: { event: string | undefined; data: string }[] = [];
    for await (const ev of res.body!.pipeThrough(new TextDecoderStream()).pipeThrough(new EventSourceParserStream()))
      events.push({ event: ev.event, data: ev.data });
    expect(events[0]?.event).toBe('meta');
    expect(events.slice(-2).map((e) => e.event)).toEqual(['usage', 'done']);
    const frames = events
      .filter((e) => e.event === 'delta' && e.data.startsWith('{'))
      .map((e) => JSON.parse(e.data) as { type: string; delta?: string; messageMetadata?: { usage?: unknown } });
    const deltas = frames.filter((f) => f.type === 'text-delta');
    expect(deltas.length).toBeGreaterThan(5); // streamed, not one piece
    expect(deltas.map((f) => f.delta).join('')).toMatch(/^You said: stream please\./);
    expect(frames.find((f) => f.type === 'finish')?.messageMetadata?.usage).toMatchObject({
      totalTokens: expect.any(Number),
    });
  });

  it('meters both invokes once, with the model’s tokens and the shim’s compute time, shown by `webhost usage`', async () => {
    type Report = {
      byAgent: { agentId: string; requests: number; inputTokens: number; outputTokens: number; computeMs: number }[];
    };
    let mine: Report['byAgent'][number] | undefined;
    await expect
      .poll(
        async () => {
          mine = (await api<Report>('GET', '/v1/usage')).body.byAgent.find((a) => a.agentId === agentId);
          return mine !== undefined && mine.requests >= 2 && mine.computeMs > 0;
        },
        { timeout: 20_000, interval: 250 },
      )
      .toBe(true);
    expect(mine!.requests).toBe(2);
    expect(mine!.inputTokens).toBeGreaterThan(0);
    expect(mine!.outputTokens).toBeGreaterThan(0);
    const run = await cli(['usage']);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/ai-sdk \[local\]\s+2 req/);
  });

  it('redeploys with the same lockfile from the dependency cache', async () => {
    const started = performance.now();
    const run = await cliDeploy(example, 'ai-sdk');
    timings.warm = performance.now() - started;
    expect(run.code).toBe(0);
    expect(run.stdout.trim()).toBe(agentId);
    // one install, one cache entry: the second build installed nothing
    const entries = readdirSync(join(platform.dataDir, 'build', 'deps-cache')).filter((e) => !e.startsWith('.'));
    expect(entries).toHaveLength(1);
    console.log(
      `examples/ai-sdk deploy through the CLI: cold ${Math.round(timings.cold!)} ms, warm ${Math.round(timings.warm!)} ms`,
    );
  });

  it('fails a deploy whose code imports a package it does not depend on, and the previous one keeps serving', async () => {
    const files = Object.fromEntries(
      ['package.json', 'package-lock.json', 'src/index.js'].map((f) => [f, readFileSync(join(example, f), 'utf8')]),
    );
    files['src/index.js'] = `import 'zod-to-nowhere';\n${files['src/index.js']}`;
    const failed = await deploy(agentId, { type: 'files', files });
    expect(failed.status).toBe('failed');
    expect(failed.error?.message).toMatch(/package zod-to-nowhere is not installed \(add it to dependencies\)/);
    const res = await invoke(agentId, 'still there?');
    expect(res.status).toBe(200);
    expect(((await res.json()) as { output: { text: string } }).output.text).toContain('still there?');
  });

  it('deploys from a file:// git repository at a tag, and records the commit', async () => {
    const repo = join(gitRoot, 'agents');
    mkdirSync(join(repo, 'ai'), { recursive: true });
    cpSync(example, join(repo, 'ai'), { recursive: true, filter: (p) => !p.includes('node_modules') });
    writeFileSync(join(repo, 'README.md'), 'agents\n');
    const git = (...args: string[]) =>
      execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@example.com', ...args], { cwd: repo })
        .toString()
        .trim();
    git('init', '-q', '-b', 'main');
    git('add', '-A');
    git('commit', '-q', '-m', 'the agent');
    git('tag', 'v1.0.0');
    const sha = git('rev-parse', 'HEAD');
    const agent = (await api<Agent>('POST', '/v1/agents', { name: 'from-git', runtime: 'local' })).body;
    const url = pathToFileURL(repo).href;
    const live = await deploy(agent.id, { type: 'git', url, ref: 'v1.0.0', path: 'ai' });
    expect(live).toMatchObject({ status: 'live', sourceType: 'git', framework: 'ai-sdk', commitSha: sha });
    const badRef = await deploy(agent.id, { type: 'git', url, ref: 'v9' });
    expect(badRef).toMatchObject({ status: 'failed', error: { message: `bundle: ref v9 not found in ${url}` } });
    expect((await invoke(agent.id, 'from git')).status).toBe(200);
  });
});
