// docker-compose.yml and the Dockerfile, checked without a Docker engine (none runs in CI here):
// the Compose file against the Compose specification's JSON schema (test/fixtures/compose-spec.json,
// vendored; see test/fixtures/README.md), after interpolating it with .env.example the way Compose
// does; then what the schema cannot know — targets, environment, ports, Temporal's setup.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { parseEnv } from 'node:util';
import { Ajv } from 'ajv';
import addFormatsPlugin from 'ajv-formats';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { configFromEnv } from '../../lib/config.js';
import { LIMIT_ENV } from '../../lib/limits.js';
import { SearchAttributeType } from '@temporalio/common';
import { SEARCH_ATTRIBUTES } from '../../lib/temporal/search-attributes.js';
import {
  documentedVariables,
  dockerfileStages,
  interpolate,
  interpolateAll,
  MissingVariableError,
} from '../helpers/compose.js';

const root = resolve(import.meta.dirname, '../..');
const read = (path: string) => readFileSync(join(root, path), 'utf8');

const composeText = read('docker-compose.yml');
const envExample = read('.env.example');
const dockerfile = read('Dockerfile');
const exampleEnv = parseEnv(envExample) as Record<string, string>;
/** The variables .env.example leaves empty: what an operator must fill in. */
const required = Object.entries(exampleEnv)
  .filter(([, v]) => v === '')
  .map(([k]) => k);
/** .env.example with its required secrets filled in, as an operator's .env would be. */
const filledEnv = Object.fromEntries(
  Object.entries(exampleEnv).map(([k, v]) => [k, v === '' ? `value-of-${k.toLowerCase()}` : v]),
);

// `<<` merge keys, as Compose reads them
const parseCompose = (text: string) => parse(text, { merge: true }) as ComposeFile;

interface Service {
  image?: string;
  build?: { context: string; target?: string };
  environment?: Record<string, string | null>;
  env_file?: string | string[];
  ports?: string[];
  expose?: string[];
  depends_on?: Record<string, { condition: string }>;
  command?: string[] | string;
  configs?: { source: string; target: string }[];
}
interface ComposeFile {
  services: Record<string, Service>;
  configs?: Record<string, { content?: string }>;
}

const compose = interpolateAll(parseCompose(composeText), filledEnv) as ComposeFile;
const services = compose.services;

const ajv = new Ajv({ allErrors: true, strict: false });
addFormatsPlugin.default(ajv);
const schema = JSON.parse(read('test/fixtures/compose-spec.json')) as Record<string, unknown>;
// the schema names its draft by an https URL; Ajv knows draft-07 by its http one
const validate = ajv.compile({ ...schema, $schema: 'http://json-schema.org/draft-07/schema#' });

describe('Compose interpolation (as docker compose does it)', () => {
  it('substitutes, defaults, requires and escapes', () => {
    const env = { A: 'a', EMPTY: '' };
    expect(interpolate('x${A}y$A', env)).toBe('xaya');
    expect(interpolate('${EMPTY:-d} ${EMPTY-d} ${UNSET-d} ${UNSET:-${A}}', env)).toBe('d  d a');
    expect(interpolate('${A:+alt}|${EMPTY:+alt}|${EMPTY+alt}', env)).toBe('alt||alt');
    expect(interpolate('$$HOME and $${A}', env)).toBe('$HOME and ${A}');
    expect(() => interpolate('${EMPTY:?say why}', env)).toThrow(MissingVariableError);
    expect(interpolate('${EMPTY?say why}', env)).toBe('');
    expect(() => interpolate('${UNSET?say why}', env)).toThrow(/UNSET.*say why/);
  });
});

describe('docker-compose.yml', () => {
  it('is valid under the Compose specification once interpolated with .env', () => {
    const ok = validate(compose);
    expect(validate.errors ?? [], JSON.stringify(validate.errors, null, 2)).toEqual([]);
    expect(ok).toBe(true);
  });

  it('the schema rejects a broken file (an unknown condition, a misspelt key)', () => {
    const broken = structuredClone(compose);
    broken.services.api!.depends_on = { postgresql: { condition: 'service_ready' } };
    (broken.services.web as Record<string, unknown>).imagee = 'typo';
    expect(validate(broken)).toBe(false);
    const paths = (validate.errors ?? []).map((e) => `${e.instancePath} ${e.message}`).join('\n');
    expect(paths).toContain('/services/api/depends_on');
    expect(paths).toMatch(/\/services\/web .*additional properties/);
  });

  it('refuses to start without the secrets .env.example leaves empty, naming each', () => {
    expect(required.sort()).toEqual(['POSTGRES_PASSWORD', 'WEBHOST_ENCRYPTION_KEY']);
    let error: unknown;
    try {
      interpolateAll(parseCompose(composeText), exampleEnv);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(AggregateError);
    const missing = (error as AggregateError).errors.map((e: MissingVariableError) => e.variable).sort();
    expect(missing).toEqual(required.sort());
  });

  it('documents every variable it interpolates in .env.example, each with a comment above', () => {
    const interpolated = new Set([...composeText.matchAll(/(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)/g)].map((m) => m[1]!));
    const documented = documentedVariables(envExample);
    expect([...interpolated].filter((v) => !documented.includes(v))).toEqual([]);
    const lines = envExample.split('\n');
    const uncommented = lines.flatMap((line, i) => {
      const name = /^#?\s*([A-Z][A-Z0-9_]*)=/.exec(line)?.[1];
      if (!name) return [];
      // the nearest line above that is not another variable must be a comment in words
      let j = i - 1;
      while (j >= 0 && /^#?\s*[A-Z][A-Z0-9_]*=/.test(lines[j]!)) j--;
      return j >= 0 && /^#\s+\S/.test(lines[j]!) && !/^#\s*-{3}/.test(lines[j]!) ? [] : [name];
    });
    expect(uncommented).toEqual([]);
  });

  it('builds each platform service from a Dockerfile stage that exists, running its own main', () => {
    const stages = dockerfileStages(dockerfile);
    const mains: Record<string, string> = {
      api: 'api/main.ts',
      gateway: 'gateway/main.ts',
      worker: 'workers/main.ts',
      'runtime-local': 'runtime-local/main.ts',
      web: 'web/main.ts',
    };
    const built = Object.entries(services).filter(([, s]) => s.build);
    expect(built.map(([, s]) => s.build!.target).sort()).toEqual(Object.keys(mains).sort());
    for (const [name, s] of built) {
      const target = s.build!.target!;
      expect(stages.has(target), `${name}: no stage "${target}" in the Dockerfile`).toBe(true);
      const stage = stages.get(target)!;
      expect(stage, target).toContain(`CMD ["node", "--import", "tsx", "${mains[target]}"]`);
      expect(statSync(join(root, mains[target]!)).isFile()).toBe(true);
      expect(stage, `${target} runs as root`).toMatch(/^USER node$/m);
      if (/^EXPOSE /m.test(stage))
        expect(stage, `${target} exposes a port without a HEALTHCHECK`).toContain('HEALTHCHECK');
    }
    expect(dockerfile).toMatch(/^STOPSIGNAL SIGTERM$/m);
    expect(dockerfile).toMatch(/^ARG NODE_IMAGE=node:22\.\d+\.\d+-bookworm-slim$/m);
  });

  it('pins every image it pulls to a version', () => {
    for (const [name, s] of Object.entries(services)) {
      if (s.build) continue;
      expect(s.image, name).toMatch(/^[\w./-]+:\d[\w.-]*$/);
    }
  });

  it('publishes the default ports (DESIGN.md §3) and only those: not the gateways, databases or runtime', () => {
    const defaults = configFromEnv({});
    const published = Object.fromEntries(
      Object.entries(services)
        .filter(([, s]) => s.ports?.length)
        .map(([name, s]) => [name, s.ports!]),
    );
    expect(published).toEqual({
      api: [`${defaults.apiPort}:${defaults.apiPort}`],
      'gateway-proxy': [`${defaults.gatewayPort}:${defaults.gatewayPort}`],
      web: [`${defaults.dashboardPort}:${defaults.dashboardPort}`],
      // Temporal UI can terminate and reset workflows: this machine only (FACTS.md)
      'temporal-ui': [`127.0.0.1:${defaults.temporal.uiPort}:8080`],
    });
    // the ports the processes are told to listen on are the ones published or proxied to
    expect(services.api!.environment!.API_PORT).toBe(String(defaults.apiPort));
    expect(services.gateway!.environment!.GATEWAY_PORT).toBe(String(defaults.gatewayPort));
    expect(services.web!.environment!.DASHBOARD_PORT).toBe(String(defaults.dashboardPort));
  });

  it('puts the gateway replicas behind one proxy that finds every replica through Docker DNS', () => {
    const gatewayPort = configFromEnv({}).gatewayPort;
    expect(services.gateway!.ports).toBeUndefined();
    const proxy = services['gateway-proxy']!;
    const caddyfile = compose.configs?.[proxy.configs![0]!.source]?.content ?? '';
    expect(proxy.configs![0]!.target).toBe('/etc/caddy/Caddyfile');
    // a dynamic upstream, looked up again, so `--scale gateway=N` needs no restart
    expect(caddyfile).toMatch(/dynamic a \{\s*name gateway\s*port (\d+)\s*refresh \d+s/);
    expect(/port (\d+)/.exec(caddyfile)![1]).toBe(String(gatewayPort));
    expect(caddyfile).toContain('lb_policy round_robin');
    expect(services.web!.environment!.WEBHOST_INTERNAL_GATEWAY_URL).toBe(`http://gateway-proxy:${gatewayPort}`);
  });

  it('registers exactly the search attributes the workflows carry, and the namespace the platform uses', () => {
    const script = [services['temporal-admin-tools']!.command].flat().join('\n');
    const names = /for name in ([\w ]+); do/.exec(script)?.[1]?.split(' ');
    expect(names).toEqual(SEARCH_ATTRIBUTES.map((k) => k.name));
    // the script registers them as Keyword; a new type needs a line of its own
    expect(SEARCH_ATTRIBUTES.every((k) => k.type === SearchAttributeType.KEYWORD)).toBe(true);
    expect(script).toContain('--type Keyword');
    expect(services['temporal-admin-tools']!.environment!.TEMPORAL_NAMESPACE).toBe(
      services.api!.environment!.TEMPORAL_NAMESPACE,
    );
  });

  it('runs Temporal with the dynamic config the dev server of npm start runs with', () => {
    const devServer = read('lib/temporal/dev-server.ts');
    const devValues = [...devServer.matchAll(/'--dynamic-config-value',\s*'([\w.]+)=(\w+)'/g)].map((m) => [
      m[1]!,
      JSON.parse(m[2]!) as unknown,
    ]);
    expect(devValues.length).toBeGreaterThan(0);
    const mounted = services.temporal!.configs!.find((c) =>
      services.temporal!.environment!.DYNAMIC_CONFIG_FILE_PATH!.endsWith(c.target.replace(/^\/etc\/temporal\//, '')),
    );
    expect(mounted, 'DYNAMIC_CONFIG_FILE_PATH names the mounted config').toBeDefined();
    const dynamic = parse(compose.configs![mounted!.source]!.content!) as Record<string, { value: unknown }[]>;
    for (const [key, value] of devValues) expect(dynamic[key as string]?.[0]?.value, key as string).toEqual(value);
  });

  it('starts the platform only once PostgreSQL is healthy and Temporal is set up', () => {
    for (const name of ['api', 'gateway', 'worker']) {
      expect(services[name]!.depends_on, name).toMatchObject({
        postgresql: { condition: 'service_healthy' },
        'temporal-admin-tools': { condition: 'service_completed_successfully' },
      });
    }
    for (const name of ['gateway', 'worker'])
      expect(services[name]!.depends_on!['runtime-local']).toEqual({ condition: 'service_healthy' });
    expect(services.temporal!.depends_on!['temporal-schema']).toEqual({
      condition: 'service_completed_successfully',
    });
  });

  it('gives every process every variable it reads, or leaves it to a default on purpose', () => {
    const wanted = platformVariables();
    const reachable = new Set([
      ...Object.values(services).flatMap((s) => Object.keys(s.environment ?? {})),
      // .env reaches the api, the gateways and the workers through env_file
      ...documentedVariables(envExample),
    ]);
    for (const name of ['api', 'gateway', 'worker']) expect(services[name]!.env_file, name).toBe('.env');
    const unexplained = [...wanted].filter((v) => !reachable.has(v) && !(v in DEFAULTED_ON_PURPOSE));
    expect(unexplained, 'read by the platform, but neither in docker-compose.yml nor in .env.example').toEqual([]);
    const stale = Object.keys(DEFAULTED_ON_PURPOSE).filter((v) => !wanted.has(v));
    expect(stale, 'no longer read by the platform: drop them from DEFAULTED_ON_PURPOSE').toEqual([]);
  });

  it('gives the runtime and the dashboard, which do not read .env, what their mains read', () => {
    const readIn = (...files: string[]) =>
      new Set(files.flatMap((f) => [...read(f).matchAll(/\benv\.([A-Z][A-Z0-9_]*)\b/g)].map((m) => m[1]!)));
    const runtime = Object.keys(services['runtime-local']!.environment!);
    expect(services['runtime-local']!.env_file).toBeUndefined();
    expect(
      [
        ...readIn('runtime-local/main.ts'),
        ...Object.values(LIMIT_ENV.agent),
        'LOCAL_RUNTIME_HOST',
        'WEBHOST_DATA_DIR',
      ].filter((v) => !runtime.includes(v)),
    ).toEqual([]);
    const web = Object.keys(services.web!.environment!);
    expect(services.web!.env_file).toBeUndefined();
    expect(
      [...readIn('web/main.ts', 'web/server.ts'), 'HOST', 'DASHBOARD_PORT'].filter((v) => !web.includes(v)),
    ).toEqual([]);
  });
});

/** Variables the platform reads that docker-compose.yml leaves alone, and why. */
const DEFAULTED_ON_PURPOSE: Record<string, string> = {
  TEMPORAL_PORT: 'the dev server’s port; compose runs a Temporal server (TEMPORAL_ADDRESS)',
  TEMPORAL_UI_PORT: 'the dev server’s UI port; compose runs temporal-ui',
  TEMPORAL_CLI: 'the dev server’s binary (npm start only)',
  XDG_CACHE_HOME: 'where npm start caches the Temporal CLI',
  NODE_ENV: 'not read: esbuild’s define for agents’ bundles (lib/build/bundle.ts); the image sets it',
  PATH: 'the image’s own',
  MINIFLARE_WORKERD_V8_FLAGS: 'set by the local runtime for Miniflare (every agent’s heap cap), not read from outside',
};

/** The environment variables read by the code the platform's processes run (not tests, not scripts). */
function platformVariables(): Set<string> {
  const folders = ['lib', 'api', 'gateway', 'workers', 'runtime-local', 'activities', 'workflows'];
  // code that runs elsewhere: in agents (the shim) and in AgentCore's container
  const elsewhere = ['lib/runtime/shim/', 'lib/runtime/providers/agentcore/node-server.ts'];
  const files = [
    ...folders.flatMap((f) => tsFiles(join(root, f))),
    join(root, 'web/server.ts'),
    join(root, 'web/main.ts'),
  ]
    .map((f) => relative(root, f))
    .filter((f) => !/\.test\.ts$/.test(f) && !elsewhere.some((e) => f.startsWith(e)));
  const names = new Set<string>(Object.values(LIMIT_ENV).flatMap((g) => Object.values(g)));
  for (const file of files) {
    const code = read(file)
      .replace(/\/\*[\s\S]*?\*\//g, '')
      .replace(/^\s*\/\/.*$/gm, '');
    for (const m of code.matchAll(/\benv\.([A-Z][A-Z0-9_]*)\b/g)) names.add(m[1]!);
  }
  return names;
}

function tsFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return e.name === 'node_modules' || e.name === 'histories' ? [] : tsFiles(p);
    return e.name.endsWith('.ts') ? [p] : [];
  });
}
