// A small client of the api and gateway, so a newcomer can deploy and invoke without jq:
//   npm run --silent webhost -- deploy examples/echo [--name echo]
//   npm run --silent webhost -- invoke <agentId> '{"hello":"world"}' [--stream]
// Reads WEBHOST_TOKEN (else signs a local token for user "alice"), API_URL and GATEWAY_URL.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, join, relative } from 'node:path';
import { parseArgs } from 'node:util';
import { ensureLocalKeyPair } from '../lib/auth/local-keys.js';
import { signLocalToken } from '../lib/auth/sign.js';
import { configFromEnv } from '../lib/config.js';

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: { name: { type: 'string' }, stream: { type: 'boolean' }, entry: { type: 'string' } },
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

function readFiles(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      if (name === 'node_modules' || name.startsWith('.')) continue;
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else out[relative(dir, p)] = readFileSync(p, 'utf8');
    }
  };
  walk(dir);
  return out;
}

const [command, ...args] = positionals;
if (command === 'deploy' && args[0]) {
  const dir = args[0];
  const name = values.name ?? basename(dir);
  const agents = await call<{ items: { id: string; name: string }[] }>('GET', `${api}/v1/agents?limit=100`);
  const agent =
    agents.items.find((a) => a.name === name) ??
    (await call<{ id: string }>('POST', `${api}/v1/agents`, { name, runtime: 'local' }));
  const started = await call<{ deploymentId: string; workflowId: string }>(
    'POST',
    `${api}/v1/agents/${agent.id}/deployments`,
    {
      source: { type: 'files', entry: values.entry ?? 'index.js', files: readFiles(dir) },
    },
  );
  console.error(`deploying ${name} (${agent.id}) as ${started.deploymentId}, workflow ${started.workflowId}`);
  for (;;) {
    const d = await call<{ status: string; currentStep: string | null; error: { message: string } | null }>(
      'GET',
      `${api}/v1/deployments/${started.deploymentId}`,
    );
    if (d.status === 'live') break;
    if (d.status === 'failed' || d.status === 'canceled')
      throw new Error(`deployment ${d.status}: ${d.error?.message}`);
    await new Promise((r) => setTimeout(r, 300));
  }
  console.error('live');
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
    'usage: webhost deploy <dir> [--name n] [--entry index.js] | webhost invoke <agentId> [json-input] [--stream]',
  );
  process.exit(2);
}
