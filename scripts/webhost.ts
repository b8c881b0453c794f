// A small client of the api and gateway, so a newcomer can deploy and invoke without jq:
//   npm run --silent webhost -- deploy examples/echo [--name echo] [--entry index.js]
//   npm run --silent webhost -- deploy examples/ai-sdk      (a project: package.json names the entry)
//   npm run --silent webhost -- deploy --git <url> --ref <ref> [--path dir] --name n
//   npm run --silent webhost -- invoke <agentId> '{"hello":"world"}' [--stream]
// Reads WEBHOST_TOKEN (else signs a local token for user "alice"), API_URL and GATEWAY_URL.
import { lstatSync, readdirSync, readFileSync } from 'node:fs';
import { basename, join, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { ensureLocalKeyPair } from '../lib/auth/local-keys.js';
import { signLocalToken } from '../lib/auth/sign.js';
import { configFromEnv } from '../lib/config.js';
import { FILES_MAX_COUNT, FILES_MAX_TOTAL_BYTES, type DeploymentSource } from '../lib/contracts/index.js';

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: {
    name: { type: 'string' },
    stream: { type: 'boolean' },
    entry: { type: 'string' },
    git: { type: 'string' },
    ref: { type: 'string' },
    path: { type: 'string' },
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
  const json = (await res.json()) as T & { error?: { code: string; message: string } };
  if (!res.ok) throw new Error(`${method} ${url}: ${res.status} ${json.error?.code}: ${json.error?.message}`);
  return json;
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
  const agents = await call<{ items: { id: string; name: string }[] }>('GET', `${api}/v1/agents?limit=100`);
  const agent =
    agents.items.find((a) => a.name === name) ??
    (await call<{ id: string }>('POST', `${api}/v1/agents`, { name, runtime: 'local' }));
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
  const res = await fetch(`${gateway}/v1/agents/${args[0]}/invoke`, {
    method: 'POST',
    headers,
    body: JSON.stringify({ input, stream: values.stream ?? false }),
  });
  if (values.stream && res.ok && res.body) {
    for await (const chunk of res.body) process.stdout.write(chunk);
  } else {
    console.log(JSON.stringify(await res.json(), null, 2));
  }
} else {
  console.error(
    'usage: webhost deploy <dir> [--name n] [--entry file] | webhost deploy --git <url> --ref <ref> [--path dir] [--entry file] --name n | webhost invoke <agentId> [json-input] [--stream]',
  );
  process.exit(2);
}
