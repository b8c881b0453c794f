// A small client of the api and gateway, so a newcomer can deploy and invoke without jq:
//   npm run --silent webhost -- deploy examples/echo [--name echo] [--entry index.js]
//   npm run --silent webhost -- deploy examples/ai-sdk      (a project: package.json names the entry)
//   npm run --silent webhost -- deploy --git <url> --ref <ref> [--path dir] --name n
//   npm run --silent webhost -- invoke <agent> '{"hello":"world"}' [--stream]
//   npm run --silent webhost -- rollback <agent> [<deploymentId>]   (default: the previous live deployment)
//   npm run --silent webhost -- secrets set <agent> NAME [value]      (the value from stdin when not given)
//   npm run --silent webhost -- secrets list <agent>
//   npm run --silent webhost -- secrets rm <agent> NAME
//   npm run --silent webhost -- usage [--period YYYY-MM]             (the current period by default)
//   npm run --silent webhost -- logs <agent> [--follow] [--limit n]  (--follow: a live tail, reconnecting)
// <agent> is an agent's name or id.
// Reads WEBHOST_TOKEN (else signs a local token for user "alice"), API_URL and GATEWAY_URL.
import { lstatSync, readdirSync, readFileSync } from 'node:fs';
import { basename, join, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { ensureLocalKeyPair } from '../lib/auth/local-keys.js';
import { signLocalToken } from '../lib/auth/sign.js';
import { configFromEnv } from '../lib/config.js';
import {
  FILES_MAX_COUNT,
  FILES_MAX_TOTAL_BYTES,
  type DeploymentSource,
  type LogLine,
  type UsageReport,
} from '../lib/contracts/index.js';
import { FollowError, followLogs } from '../lib/logs/follow.js';

// A failed call is reported as one line (the api's error code and message), not a stack trace.
process.on('uncaughtException', (err) => {
  console.error(`webhost: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: {
    name: { type: 'string' },
    stream: { type: 'boolean' },
    entry: { type: 'string' },
    git: { type: 'string' },
    ref: { type: 'string' },
    path: { type: 'string' },
    runtime: { type: 'string' },
    period: { type: 'string' },
    follow: { type: 'boolean', short: 'f' },
    limit: { type: 'string' },
  },
});
const config = configFromEnv();
const api = process.env.API_URL ?? `http://127.0.0.1:${config.apiPort}`;
const gateway = process.env.GATEWAY_URL ?? `http://127.0.0.1:${config.gatewayPort}`;
const token =
  process.env.WEBHOST_TOKEN ?? (await signLocalToken(ensureLocalKeyPair(config.dataDir).privateKeyPem, 'alice'));
const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };

async function call<T>(method: string, url: string, body?: unknown): Promise<T> {
  const res = await fetch(url, { method, headers, body: body === undefined ? null : JSON.stringify(body) });
  if (res.status === 204) return undefined as T;
  const json = (await res.json()) as T & { error?: { code: string; message: string } };
  if (!res.ok) throw new Error(`${method} ${url}: ${res.status} ${json.error?.code}: ${json.error?.message}`);
  return json;
}

interface AgentView {
  id: string;
  name: string;
  runtime: string;
  activeDeploymentId: string | null;
  rollbackWorkflowId: string | null;
}
interface DeploymentView {
  id: string;
  version: number;
  status: string;
  createdAt: string;
}

/** An agent by id, or else by name among the caller's agents. */
async function findAgent(ref: string): Promise<AgentView> {
  if (/^agt_/.test(ref)) return call<AgentView>('GET', `${api}/v1/agents/${ref}`);
  let cursor: string | null = null;
  do {
    const page: { items: AgentView[]; nextCursor: string | null } = await call(
      'GET',
      `${api}/v1/agents?limit=100${cursor ? `&cursor=${cursor}` : ''}`,
    );
    const found = page.items.find((a) => a.name === ref);
    if (found) return found;
    cursor = page.nextCursor;
  } while (cursor);
  throw new Error(`no agent named ${ref}`);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The secret's value: the argument, else standard input (so it stays out of shell history). */
async function secretValue(arg: string | undefined): Promise<string> {
  if (arg !== undefined) return arg;
  if (process.stdin.isTTY) console.error('value (end with Ctrl-D):');
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks)
    .toString('utf8')
    .replace(/\r?\n$/, '');
}

/**
 * A project folder as a files source: every file but node_modules, .git and dotfiles (no
 * secrets from .env go up), within the api's limits on count and size.
 */
function readFiles(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  let total = 0;
  const walk = (d: string) => {
    for (const name of readdirSync(d).sort()) {
      if (name === 'node_modules' || name.startsWith('.')) continue;
      const p = join(d, name);
      const st = lstatSync(p);
      if (st.isSymbolicLink()) continue;
      if (st.isDirectory()) walk(p);
      else if (st.isFile()) {
        total += st.size;
        if (total > FILES_MAX_TOTAL_BYTES || Object.keys(out).length >= FILES_MAX_COUNT)
          throw new Error(
            `${dir} holds more than ${FILES_MAX_COUNT} files or ${FILES_MAX_TOTAL_BYTES / 1024 / 1024} MiB: deploy it from git instead (--git <url> --ref <ref>)`,
          );
        out[relative(dir, p).split('\\').join('/')] = readFileSync(p, 'utf8');
      }
    }
  };
  walk(dir);
  return out;
}

/** A files source of a folder; the entry is left to package.json / wrangler when the folder has one. */
function folderSource(dir: string): DeploymentSource {
  const files = readFiles(dir);
  const hasManifest = ['package.json', 'wrangler.toml', 'wrangler.json', 'wrangler.jsonc'].some((f) => f in files);
  const entry = values.entry ?? (hasManifest ? undefined : 'index.js');
  return { type: 'files', files, ...(entry ? { entry } : {}) };
}

const [command, ...args] = positionals;
if (command === 'deploy' && (args[0] || values.git)) {
  const source: DeploymentSource = values.git
    ? {
        type: 'git',
        url: values.git,
        ref: values.ref ?? 'main',
        ...(values.path ? { path: values.path } : {}),
        ...(values.entry ? { entry: values.entry } : {}),
      }
    : folderSource(args[0]!);
  const name = values.name ?? basename(resolve(args[0] ?? values.path ?? values.git!.replace(/\.git$/, '')));
  const agent = await findAgent(name).catch(() =>
    call<AgentView>('POST', `${api}/v1/agents`, { name, runtime: values.runtime ?? 'local' }),
  );
  const started = await call<{ deploymentId: string; workflowId: string }>(
    'POST',
    `${api}/v1/agents/${agent.id}/deployments`,
    { source },
  );
  console.error(`deploying ${name} (${agent.id}) as ${started.deploymentId}, workflow ${started.workflowId}`);
  // as long as a build may wait for its turn and run, and the deploy after it
  const waitUntil = Date.now() + 35 * 60_000;
  let live: { framework: string | null; commitSha: string | null } | null = null;
  while (!live) {
    const d = await call<{
      status: string;
      currentStep: string | null;
      framework: string | null;
      commitSha: string | null;
      error: { message: string } | null;
    }>('GET', `${api}/v1/deployments/${started.deploymentId}`);
    if (d.status === 'live') live = d;
    else if (d.status === 'failed' || d.status === 'canceled')
      throw new Error(`deployment ${d.status}: ${d.error?.message}`);
    else if (Date.now() > waitUntil)
      throw new Error(`deployment still ${d.status} after 35 minutes; giving up waiting`);
    else await new Promise((r) => setTimeout(r, 300));
  }
  console.error(
    `live (framework: ${live.framework ?? 'unknown'}${live.commitSha ? `, commit ${live.commitSha}` : ''})`,
  );
  console.log(agent.id);
} else if (command === 'invoke' && args[0]) {
  const input: unknown = args[1] === undefined ? null : JSON.parse(args[1]);
  const agent = await findAgent(args[0]);
  const res = await fetch(`${gateway}/v1/agents/${agent.id}/invoke`, {
    method: 'POST',
    headers,
    body: JSON.stringify({ input, stream: values.stream ?? false }),
  });
  if (values.stream && res.ok && res.body) {
    for await (const chunk of res.body) process.stdout.write(chunk);
  } else {
    console.log(JSON.stringify(await res.json(), null, 2));
  }
} else if (command === 'rollback' && args[0]) {
  const agent = await findAgent(args[0]);
  const target = args[1] ?? (await previousLive(agent));
  const started = await call<{ workflowId: string }>('POST', `${api}/v1/agents/${agent.id}/rollback`, {
    deploymentId: target,
  });
  console.error(`rolling ${agent.name} (${agent.id}) back to ${target}, workflow ${started.workflowId}`);
  const waitUntil = Date.now() + 5 * 60_000;
  for (;;) {
    const now = await call<AgentView>('GET', `${api}/v1/agents/${agent.id}`);
    if (now.activeDeploymentId === target && now.rollbackWorkflowId === null) break;
    if (now.rollbackWorkflowId === null && now.activeDeploymentId !== target)
      throw new Error(
        `the rollback did not complete; ${now.activeDeploymentId} still serves (see ${started.workflowId} in Temporal UI)`,
      );
    if (Date.now() > waitUntil) throw new Error('the rollback has not completed after 5 minutes; giving up waiting');
    await sleep(100);
  }
  console.error(`${target} serves ${agent.name} again`);
  console.log(target);
} else if (command === 'secrets' && args[0] === 'list' && args[1]) {
  const agent = await findAgent(args[1]);
  const { items } = await call<{ items: { name: string; version: number; updatedAt: string }[] }>(
    'GET',
    `${api}/v1/agents/${agent.id}/secrets`,
  );
  if (items.length === 0) console.error(`${agent.name} has no secrets`);
  for (const s of items) console.log(`${s.name}\tversion ${s.version}\t${s.updatedAt}`);
} else if (command === 'secrets' && args[0] === 'set' && args[1] && args[2]) {
  const agent = await findAgent(args[1]);
  const value = await secretValue(args[3]);
  const set = await call<{ name: string; version: number; status?: string; workflowId?: string }>(
    'PUT',
    `${api}/v1/agents/${agent.id}/secrets/${args[2]}`,
    { value },
  );
  console.error(
    set.status === 'pending'
      ? `${set.name} version ${set.version} is being applied (workflow ${set.workflowId})`
      : `${set.name} is set (version ${set.version}); ${agent.name} reads it as env.${set.name} on its next call`,
  );
} else if (command === 'secrets' && args[0] === 'rm' && args[1] && args[2]) {
  const agent = await findAgent(args[1]);
  await call('DELETE', `${api}/v1/agents/${agent.id}/secrets/${args[2]}`);
  console.error(`${args[2]} is deleted from ${agent.name}`);
} else if (command === 'usage') {
  const query = values.period ? `?period=${encodeURIComponent(values.period)}` : '';
  const report = await call<UsageReport>('GET', `${api}/v1/usage${query}`);
  console.log(usageText(report));
} else if (command === 'logs' && args[0]) {
  const agent = await findAgent(args[0]);
  const url = `${api}/v1/agents/${agent.id}/logs`;
  if (values.follow) {
    const stop = new AbortController();
    process.once('SIGINT', () => stop.abort());
    try {
      await followLogs(
        { url, headers: { authorization: headers.authorization }, signal: stop.signal },
        {
          line: (l) => console.log(logText(l)),
          dropped: (n) => console.error(`webhost: ${n} log line${n === 1 ? ' was' : 's were'} dropped`),
          reconnecting: (reason, attempt) =>
            // the api ends every tail after a while: only a break is worth telling
            reason === 'the stream ended' ? undefined : console.error(`webhost: ${reason}; reconnecting (${attempt})`),
        },
      );
    } catch (err) {
      if (err instanceof FollowError) throw new Error(`GET ${url}: ${err.message}`);
      throw err;
    }
  } else {
    const limit = Math.min(Math.max(Number(values.limit ?? 100) || 100, 1), 100);
    const page = await call<{ items: LogLine[] }>('GET', `${url}?limit=${limit}`);
    if (page.items.length === 0) console.error(`${agent.name} has no log lines`);
    for (const l of page.items.reverse()) console.log(logText(l));
  }
} else {
  console.error(
    [
      'usage:',
      '  webhost deploy <dir> [--name n] [--entry file] [--runtime local|cloudflare|agentcore]',
      '  webhost deploy --git <url> --ref <ref> [--path dir] [--entry file] --name n',
      '  webhost invoke <agent> [json-input] [--stream]',
      '  webhost rollback <agent> [<deploymentId>]',
      '  webhost secrets set <agent> NAME [value] | secrets list <agent> | secrets rm <agent> NAME',
      '  webhost usage [--period YYYY-MM]',
      '  webhost logs <agent> [--follow] [--limit n]',
    ].join('\n'),
  );
  process.exit(2);
}

/** A log line as a person reads it: time, level, request id, message. */
function logText(l: LogLine): string {
  return `${l.at} ${l.level.toUpperCase().padEnd(5)} ${l.requestId ?? '-'} ${l.message}`;
}

/** The live deployment before the one that serves now: what a rollback goes back to by default. */
async function previousLive(agent: AgentView): Promise<string> {
  const { items } = await call<{ items: DeploymentView[] }>(
    'GET',
    `${api}/v1/agents/${agent.id}/deployments?limit=100`,
  );
  const active = items.find((d) => d.id === agent.activeDeploymentId);
  const earlier = items.find(
    (d) => d.status === 'live' && d.id !== agent.activeDeploymentId && (!active || d.version < active.version),
  );
  if (!earlier) throw new Error(`${agent.name} has no earlier live deployment to roll back to`);
  return earlier.id;
}

/** A usage report as a person reads it: totals against the limit, then the breakdowns. */
function usageText(r: UsageReport): string {
  const n = (v: number) => v.toLocaleString('en-US');
  const usd = (v: number) => `$${v.toFixed(4)}`;
  const line = (label: string, t: UsageReport['totals']) =>
    `  ${label.padEnd(28)} ${n(t.requests).padStart(10)} req ${n(t.errors).padStart(7)} err ${n(t.inputTokens + t.outputTokens).padStart(12)} tok ${n(Math.round(t.computeMs)).padStart(10)} ms  ${usd(t.costUsd)}`;
  const out = [
    `period ${r.period} (${r.status})   requests ${n(r.totals.requests)} of ${r.limit === null ? 'unlimited' : n(r.limit)}   estimated cost ${usd(r.totals.costUsd)}`,
    line('total', r.totals),
    'by runtime:',
    ...r.byRuntime.map((t) => line(t.runtime, t)),
    'by agent:',
    ...r.byAgent.map((t) => line(`${t.name ?? `${t.agentId} (deleted)`} [${t.runtime}]`, t)),
  ];
  if (r.byEndUser.length > 0) {
    out.push('by end user (x-webhost-end-user):');
    for (const u of r.byEndUser)
      out.push(
        `  ${u.endUser.slice(0, 28).padEnd(28)} ${n(u.requests).padStart(10)} req ${n(u.errors).padStart(7)} err ${n(u.inputTokens + u.outputTokens).padStart(12)} tok`,
      );
  }
  return out.join('\n');
}
