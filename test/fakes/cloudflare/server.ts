// A fake of the Cloudflare API (the Workers scripts, versions, deployments, secrets and subdomain
// calls the `cloudflare` provider makes) and of workers.dev, on loopback. It speaks the real wire
// format — the `{ success, errors, messages, result }` envelope, bearer tokens, the multipart upload
// with its `metadata` part — and runs every uploaded version in real workerd (./workers.ts), so an
// invoke through the provider is real code answering.
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { StartupError, VersionRunner, type RunnableVersion } from './workers.js';

export interface FakeCloudflareOptions {
  apiToken?: string;
  accountId?: string;
  subdomain?: string;
  /** Versions running in workerd at once (least recently used stop first). */
  maxRunning?: number;
  /**
   * What Workers may reach besides public addresses (workerd allow-list entries): a test's api
   * on loopback stands in for the api's public address.
   */
  egress?: string[];
}

type Binding = { name: string; type: string; text?: string; class_name?: string; [k: string]: unknown };

interface Version {
  id: string;
  number: number;
  createdOn: string;
  mainModule: string;
  modules: { name: string; contentType: string; content: string }[];
  bindings: Binding[];
  compatibilityDate: string;
  compatibilityFlags: string[];
  annotations: Record<string, string>;
  source: string;
}

interface Deployment {
  id: string;
  created_on: string;
  source: string;
  strategy: 'percentage';
  versions: { version_id: string; percentage: number }[];
  annotations?: Record<string, string>;
}

interface Script {
  name: string;
  createdOn: string;
  versions: Version[];
  /** Newest first, as the API lists them. */
  deployments: Deployment[];
  migrationTag: string | null;
  durableObjectClasses: Set<string>;
}

interface CfError {
  code: number;
  message: string;
}

class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly errors: CfError[],
  ) {
    super(errors.map((e) => e.message).join('; '));
  }
}

/** Which API calls a fault applies to: a method, a path pattern (the full path, `/client/v4/accounts/…`). */
export interface CallMatch {
  method?: string;
  path?: RegExp;
}

interface Fault extends CallMatch {
  count: number;
  status?: number;
  holdMs?: number;
}

const matches = (f: CallMatch, method: string, path: string) =>
  (!f.method || f.method === method) && (!f.path || f.path.test(path));

const notFoundScript = () =>
  new ApiError(404, [{ code: 10007, message: 'This Worker does not exist on your account.' }]);
const MODULE_TYPES: Record<string, string> = {
  'application/javascript+module': 'esm',
  'text/javascript+module': 'esm',
};

export interface FakeCloudflare {
  /** The API base to give the SDK (`baseURL`, `CLOUDFLARE_BASE_URL`). */
  apiUrl: string;
  /** The workers.dev stand-in: `{script}` is replaced by the script's name. */
  workersUrl: string;
  apiToken: string;
  accountId: string;
  /**
   * Answers the next `count` API calls with `status` (a 5xx, 429, or 4xx) — only those that
   * `match` (method, path) when given — applying nothing, then behaves again. `count` may be
   * `Infinity`: an outage, until the returned function ends it.
   */
  failNext(count: number, status: number, match?: CallMatch): () => void;
  /**
   * Applies the next `count` calls that `match` and holds their answers for `ms` (or until the
   * caller gives up): a call that timed out at the caller after it took effect.
   */
  holdNext(count: number, ms: number, match: CallMatch): void;
  /** workers.dev answers `status` (Cloudflare's `error code: 1101` page) for the script's requests, until the returned function ends it. */
  failWorker(script: string, status: number): () => void;
  /** Every API request seen, in order (method, path, multipart part names and types, the status it got). */
  requests: { method: string; path: string; status?: number; parts?: { name: string; type: string }[] }[];
  scripts(): string[];
  /** The versions of a script, oldest first, with their bindings (for assertions). */
  versionsOf(script: string): { id: string; bindings: Binding[]; annotations: Record<string, string> }[];
  activeDeployment(script: string): Deployment | null;
  running(): number;
  close(): Promise<void>;
}

export async function startFakeCloudflare(opts: FakeCloudflareOptions = {}): Promise<FakeCloudflare> {
  const apiToken = opts.apiToken ?? `cf-token-${randomUUID()}`;
  const accountId = opts.accountId ?? randomUUID().replaceAll('-', '');
  const subdomain = opts.subdomain ?? 'webhost-test';
  const runner = new VersionRunner(opts.maxRunning ?? 8, ['public', ...(opts.egress ?? [])]);
  const scripts = new Map<string, Script>();
  const requests: FakeCloudflare['requests'] = [];
  const faults: Fault[] = [];
  const workerFaults = new Map<string, number>();
  /** The first fault in force for this call, its count taken down by one. */
  const takeFault = (method: string, path: string, kind: 'status' | 'hold') => {
    const f = faults.find(
      (x) => x.count > 0 && (kind === 'hold') === (x.holdMs !== undefined) && matches(x, method, path),
    );
    if (f) f.count -= 1;
    return f;
  };

  const now = () => new Date().toISOString();
  const getScript = (name: string) => {
    const s = scripts.get(name);
    if (!s) throw notFoundScript();
    return s;
  };
  const current = (s: Script): Deployment | null => s.deployments[0] ?? null;
  const runnable = (v: Version): RunnableVersion => ({
    id: v.id,
    mainModule: v.mainModule,
    // the main module first: workerd takes the first module as the entry
    modules: [...v.modules].sort((a, b) => (a.name === v.mainModule ? -1 : b.name === v.mainModule ? 1 : 0)),
    compatibilityDate: v.compatibilityDate,
    compatibilityFlags: v.compatibilityFlags,
    textBindings: Object.fromEntries(
      v.bindings.filter((b) => b.type === 'plain_text' || b.type === 'secret_text').map((b) => [b.name, b.text ?? '']),
    ),
    durableObjects: Object.fromEntries(
      v.bindings.filter((b) => b.type === 'durable_object_namespace').map((b) => [b.name, String(b.class_name)]),
    ),
  });
  /** Bindings as the API shows them: secret values never come back. */
  const publicBindings = (v: Version) =>
    v.bindings.map((b) => (b.type === 'secret_text' ? { name: b.name, type: b.type } : { ...b }));
  const deploy = (
    s: Script,
    versions: Deployment['versions'],
    source = 'api',
    annotations?: Record<string, string>,
  ) => {
    const d: Deployment = {
      id: randomUUID(),
      created_on: now(),
      source,
      strategy: 'percentage',
      versions,
      ...(annotations ? { annotations } : {}),
    };
    s.deployments.unshift(d);
    return d;
  };

  /** Parses and checks an upload as the API does; returns a version that has started in workerd. */
  async function upload(req: IncomingMessage, url: URL, s: Script): Promise<Version> {
    const contentType = req.headers['content-type'] ?? '';
    if (!contentType.startsWith('multipart/form-data')) {
      throw new ApiError(400, [{ code: 10021, message: 'could not read content for part metadata' }]);
    }
    const form = await new Request(url, {
      method: 'POST',
      headers: { 'content-type': contentType },
      body: Readable.toWeb(req) as ReadableStream,
      duplex: 'half',
    } as RequestInit).formData();
    const parts = [...form.entries()].map(([name, value]) => ({
      name,
      type: typeof value === 'string' ? 'text/plain' : value.type,
      value,
    }));
    requests.at(-1)!.parts = parts.map(({ name, type }) => ({ name, type }));
    const metaPart = form.get('metadata');
    if (metaPart === null)
      throw new ApiError(400, [{ code: 10021, message: 'could not read content for part metadata' }]);
    let metadata: {
      main_module?: string;
      bindings?: Binding[];
      compatibility_date?: string;
      compatibility_flags?: string[];
      annotations?: Record<string, string>;
      keep_bindings?: string[];
      migrations?: { new_tag?: string; old_tag?: string; new_classes?: string[]; new_sqlite_classes?: string[] };
    };
    try {
      metadata = JSON.parse(typeof metaPart === 'string' ? metaPart : await metaPart.text()) as typeof metadata;
    } catch {
      throw new ApiError(400, [{ code: 10021, message: 'could not parse metadata: invalid JSON' }]);
    }
    if (!metadata.main_module) {
      throw new ApiError(400, [
        { code: 10021, message: 'Version uploads require a module Worker: metadata must name main_module' },
      ]);
    }
    const modules: Version['modules'] = [];
    for (const p of parts) {
      if (p.name === 'metadata') continue;
      if (typeof p.value === 'string' || !MODULE_TYPES[p.value.type.split(';')[0]!.trim()]) {
        throw new ApiError(400, [{ code: 10021, message: `module ${p.name} has unsupported Content-Type ${p.type}` }]);
      }
      modules.push({ name: p.name, contentType: p.value.type, content: await p.value.text() });
    }
    if (!modules.some((m) => m.name === metadata.main_module)) {
      throw new ApiError(400, [{ code: 10021, message: `No such module "${metadata.main_module}".` }]);
    }
    const latest = s.versions.at(-1);
    const bindings: Binding[] = [];
    for (const b of metadata.bindings ?? []) {
      if (typeof b?.name !== 'string' || typeof b.type !== 'string') {
        throw new ApiError(400, [{ code: 10021, message: 'a binding needs a name and a type' }]);
      }
      if (b.type === 'inherit') {
        const from = b.version_id && b.version_id !== 'latest' ? s.versions.find((v) => v.id === b.version_id) : latest;
        const found = from?.bindings.find((x) => x.name === (typeof b.old_name === 'string' ? b.old_name : b.name));
        if (!found) {
          throw new ApiError(400, [{ code: 10056, message: `binding ${b.name} to inherit was not found` }]);
        }
        bindings.push({ ...found, name: b.name });
      } else if (b.type === 'plain_text' || b.type === 'secret_text') {
        if (typeof b.text !== 'string')
          throw new ApiError(400, [{ code: 10021, message: `binding ${b.name} needs text` }]);
        bindings.push({ name: b.name, type: b.type, text: b.text });
      } else if (b.type === 'durable_object_namespace') {
        bindings.push({ name: b.name, type: b.type, class_name: b.class_name });
      } else {
        throw new ApiError(400, [{ code: 10021, message: `the fake does not support binding type ${b.type}` }]);
      }
    }
    for (const kind of metadata.keep_bindings ?? []) {
      for (const b of latest?.bindings ?? []) {
        if (b.type === kind && !bindings.some((x) => x.name === b.name)) bindings.push({ ...b });
      }
    }
    // Durable Object classes must have been created by a migration (scripts.update), never by a version upload.
    const migrated = new Set(s.durableObjectClasses);
    if (metadata.migrations) {
      const m = metadata.migrations;
      if ((m.old_tag ?? null) !== s.migrationTag) {
        throw new ApiError(400, [
          {
            code: 10079,
            message: `migration old_tag ${m.old_tag ?? '(none)'} does not match the script's current tag`,
          },
        ]);
      }
      for (const c of [...(m.new_classes ?? []), ...(m.new_sqlite_classes ?? [])]) migrated.add(c);
    }
    for (const b of bindings) {
      if (b.type === 'durable_object_namespace' && !migrated.has(String(b.class_name))) {
        throw new ApiError(400, [
          {
            code: 10061,
            message: `Cannot create binding for class '${String(b.class_name)}' that is not currently exported by a migration`,
          },
        ]);
      }
    }
    const version: Version = {
      id: randomUUID(),
      number: (latest?.number ?? 0) + 1,
      createdOn: now(),
      mainModule: metadata.main_module,
      modules,
      bindings,
      compatibilityDate: metadata.compatibility_date ?? '2025-09-01',
      compatibilityFlags: metadata.compatibility_flags ?? [],
      annotations: metadata.annotations ?? {},
      source: 'api',
    };
    // The API starts the Worker before it accepts it: code that throws at start is refused.
    try {
      await runner.start(runnable(version));
    } catch (err) {
      if (err instanceof StartupError) throw new ApiError(400, [{ code: 10021, message: err.message }]);
      throw new ApiError(503, [{ code: 10013, message: 'An unknown error has occurred' }]);
    }
    if (metadata.migrations) {
      s.migrationTag = metadata.migrations.new_tag ?? s.migrationTag;
      s.durableObjectClasses = migrated;
    }
    return version;
  }

  /** The secret change Cloudflare makes: a new version from the latest, deployed at 100 %. */
  function changeSecret(s: Script, name: string, binding: Binding | null): void {
    const latest = s.versions.at(-1);
    const dep = current(s);
    const full = dep?.versions.find((v) => v.percentage === 100);
    if (!latest || !full || full.version_id !== latest.id) {
      throw new ApiError(400, [
        {
          code: 10215,
          message:
            "Secret edit failed. You attempted to modify a secret, but the latest version of your Worker isn't currently deployed. Please ensure that the latest version of your Worker is fully deployed (wrangler versions deploy) before modifying secrets. Alternatively, you can use the Cloudflare dashboard to modify secrets and deploy the version.",
        },
      ]);
    }
    const bindings = latest.bindings.filter((b) => b.name !== name);
    if (binding) bindings.push(binding);
    const version: Version = {
      ...latest,
      id: randomUUID(),
      number: latest.number + 1,
      createdOn: now(),
      bindings,
      annotations: { 'workers/triggered_by': 'secret' },
      source: 'api',
    };
    s.versions.push(version);
    deploy(s, [{ version_id: version.id, percentage: 100 }], 'api', { 'workers/triggered_by': 'secret' });
  }

  const versionBody = (s: Script, v: Version, withModules: boolean) => ({
    id: v.id,
    number: v.number,
    created_on: v.createdOn,
    source: v.source,
    annotations: v.annotations,
    bindings: publicBindings(v),
    compatibility_date: v.compatibilityDate,
    compatibility_flags: v.compatibilityFlags,
    main_module: v.mainModule,
    ...(s.migrationTag ? { migration_tag: s.migrationTag } : {}),
    ...(withModules
      ? {
          modules: v.modules.map((m) => ({
            name: m.name,
            content_type: m.contentType,
            content_base64: Buffer.from(m.content).toString('base64'),
          })),
        }
      : {}),
    metadata: { created_on: v.createdOn, modified_on: v.createdOn, source: v.source, hasPreview: false },
    resources: {
      bindings: publicBindings(v),
      script: { etag: v.id, handlers: ['fetch'] },
      script_runtime: {
        compatibility_date: v.compatibilityDate,
        compatibility_flags: v.compatibilityFlags,
        ...(s.migrationTag ? { migration_tag: s.migrationTag } : {}),
      },
    },
  });

  async function api(req: IncomingMessage, url: URL): Promise<{ result: unknown; result_info?: unknown }> {
    const base = `/client/v4/accounts/${accountId}`;
    if (!url.pathname.startsWith(`${base}/`)) {
      throw new ApiError(403, [{ code: 9109, message: 'Unauthorized to access requested resource' }]);
    }
    const path = url.pathname.slice(base.length);
    const m = req.method ?? 'GET';
    const body = async () => {
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      try {
        return JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as Record<string, unknown>;
      } catch {
        throw new ApiError(400, [{ code: 10002, message: 'could not parse the request body as JSON' }]);
      }
    };
    let match: RegExpExecArray | null;

    if (path === '/workers/subdomain' && m === 'GET') return { result: { subdomain } };

    if ((match = /^\/workers\/scripts\/([^/]+)$/.exec(path))) {
      const name = decodeURIComponent(match[1]!);
      if (!/^[a-z0-9][a-z0-9_-]{0,62}$/.test(name)) {
        throw new ApiError(400, [{ code: 10016, message: 'Invalid Worker name.' }]);
      }
      if (m === 'PUT') {
        const s: Script = scripts.get(name) ?? {
          name,
          createdOn: now(),
          versions: [],
          deployments: [],
          migrationTag: null,
          durableObjectClasses: new Set(),
        };
        const version = await upload(req, url, s);
        scripts.set(name, s);
        version.number = (s.versions.at(-1)?.number ?? 0) + 1;
        s.versions.push(version);
        deploy(s, [{ version_id: version.id, percentage: 100 }]);
        return {
          result: {
            id: name,
            etag: version.id,
            created_on: s.createdOn,
            modified_on: version.createdOn,
            handlers: ['fetch'],
            ...(s.migrationTag ? { migration_tag: s.migrationTag } : {}),
          },
        };
      }
      if (m === 'DELETE') {
        const s = getScript(name);
        const hasDurableObjects = s.durableObjectClasses.size > 0;
        if (hasDurableObjects && url.searchParams.get('force') !== 'true') {
          throw new ApiError(400, [
            { code: 10064, message: 'Cannot delete a Worker that implements Durable Objects without force=true' },
          ]);
        }
        scripts.delete(name);
        await Promise.all(s.versions.map((v) => runner.stop(v.id)));
        return { result: null };
      }
    }

    if ((match = /^\/workers\/scripts\/([^/]+)\/versions$/.exec(path))) {
      const s = getScript(decodeURIComponent(match[1]!));
      if (m === 'POST') {
        const version = await upload(req, url, s);
        if (!scripts.has(s.name)) throw notFoundScript();
        version.number = (s.versions.at(-1)?.number ?? 0) + 1;
        s.versions.push(version);
        return { result: versionBody(s, version, false) };
      }
      if (m === 'GET') {
        const page = Number(url.searchParams.get('page') ?? 1);
        const perPage = Number(url.searchParams.get('per_page') ?? 10);
        const all = [...s.versions].reverse();
        const items = all.slice((page - 1) * perPage, page * perPage).map((v) => ({
          id: v.id,
          number: v.number,
          metadata: versionBody(s, v, false).metadata,
        }));
        return {
          result: { items },
          result_info: { page, per_page: perPage, count: items.length, total_count: all.length },
        };
      }
    }

    if ((match = /^\/workers\/scripts\/([^/]+)\/versions\/([^/]+)$/.exec(path)) && m === 'GET') {
      const s = getScript(decodeURIComponent(match[1]!));
      const v = s.versions.find((x) => x.id === match![2]);
      if (!v) throw new ApiError(404, [{ code: 10220, message: 'version not found' }]);
      return { result: versionBody(s, v, false) };
    }

    // The Workers API (beta): the same scripts, addressed by name, with modules and deletion.
    if ((match = /^\/workers\/workers\/([^/]+)\/versions$/.exec(path)) && m === 'GET') {
      const s = getScript(decodeURIComponent(match[1]!));
      const page = Number(url.searchParams.get('page') ?? 1);
      const perPage = Number(url.searchParams.get('per_page') ?? 20);
      const all = [...s.versions].reverse();
      const items = all.slice((page - 1) * perPage, page * perPage).map((v) => versionBody(s, v, false));
      return { result: items, result_info: { page, per_page: perPage, count: items.length, total_count: all.length } };
    }
    if ((match = /^\/workers\/workers\/([^/]+)\/versions\/([^/]+)$/.exec(path))) {
      const s = getScript(decodeURIComponent(match[1]!));
      const v = s.versions.find((x) => x.id === match![2]);
      if (!v) throw new ApiError(404, [{ code: 10220, message: 'version not found' }]);
      if (m === 'GET') return { result: versionBody(s, v, url.searchParams.get('include') === 'modules') };
      if (m === 'DELETE') {
        if (current(s)?.versions.some((x) => x.version_id === v.id)) {
          throw new ApiError(409, [
            { code: 10222, message: 'Cannot delete a version that is part of the active deployment.' },
          ]);
        }
        s.versions = s.versions.filter((x) => x !== v);
        await runner.stop(v.id);
        return { result: null };
      }
    }

    if ((match = /^\/workers\/scripts\/([^/]+)\/deployments$/.exec(path))) {
      const s = getScript(decodeURIComponent(match[1]!));
      if (m === 'GET') return { result: { deployments: s.deployments } };
      if (m === 'POST') {
        const b = (await body()) as { strategy?: string; versions?: { version_id?: string; percentage?: number }[] };
        const versions = b.versions ?? [];
        if (b.strategy !== 'percentage')
          throw new ApiError(400, [{ code: 10021, message: 'strategy must be percentage' }]);
        if (versions.length < 1 || versions.length > 2) {
          throw new ApiError(400, [{ code: 10021, message: 'a deployment holds one or two versions' }]);
        }
        const total = versions.reduce((n, v) => n + (v.percentage ?? -1000), 0);
        if (Math.abs(total - 100) > 1e-9 || versions.some((v) => (v.percentage ?? -1) < 0)) {
          throw new ApiError(400, [{ code: 10021, message: 'deployment percentages must add up to 100' }]);
        }
        if (new Set(versions.map((v) => v.version_id)).size !== versions.length) {
          throw new ApiError(400, [{ code: 10021, message: 'a version appears twice in the deployment' }]);
        }
        for (const v of versions) {
          if (!s.versions.some((x) => x.id === v.version_id)) {
            throw new ApiError(400, [{ code: 10220, message: `version ${String(v.version_id)} not found` }]);
          }
        }
        const d = deploy(
          s,
          versions.map((v) => ({ version_id: v.version_id!, percentage: v.percentage! })),
        );
        return { result: d };
      }
    }

    if ((match = /^\/workers\/scripts\/([^/]+)\/secrets$/.exec(path))) {
      const s = getScript(decodeURIComponent(match[1]!));
      if (m === 'GET') {
        const latest = s.versions.at(-1);
        return {
          result: (latest?.bindings ?? [])
            .filter((b) => b.type === 'secret_text')
            .map((b) => ({ name: b.name, type: b.type })),
        };
      }
      if (m === 'PUT') {
        const b = await body();
        if (typeof b.name !== 'string' || typeof b.text !== 'string' || b.type !== 'secret_text') {
          throw new ApiError(400, [{ code: 10021, message: 'a secret needs a name, a text and type secret_text' }]);
        }
        changeSecret(s, b.name, { name: b.name, type: 'secret_text', text: b.text });
        return { result: { name: b.name, type: 'secret_text' } };
      }
    }
    if ((match = /^\/workers\/scripts\/([^/]+)\/secrets\/([^/]+)$/.exec(path)) && m === 'DELETE') {
      const s = getScript(decodeURIComponent(match[1]!));
      const name = decodeURIComponent(match[2]!);
      if (!s.versions.at(-1)?.bindings.some((b) => b.type === 'secret_text' && b.name === name)) {
        throw new ApiError(404, [{ code: 10056, message: 'Binding name not found' }]);
      }
      changeSecret(s, name, null);
      return { result: null };
    }

    throw new ApiError(404, [
      { code: 7003, message: 'Could not route to ' + path + ', perhaps your object identifier is invalid?' },
    ]);
  }

  const apiServer = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const method = req.method ?? 'GET';
    const seen: FakeCloudflare['requests'][number] = { method, path: url.pathname };
    requests.push(seen);
    const send = (res: ServerResponse, status: number, payload: unknown) => {
      seen.status = status;
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(payload));
    };
    void (async () => {
      try {
        if (req.headers.authorization !== `Bearer ${apiToken}`) {
          throw new ApiError(400, [{ code: 10000, message: 'Authentication error' }]);
        }
        const fault = takeFault(method, url.pathname, 'status');
        if (fault) {
          req.resume();
          throw new ApiError(fault.status!, [
            {
              code: fault.status === 429 ? 971 : 10013,
              message:
                fault.status === 429
                  ? 'Please wait and consider throttling your request speed'
                  : 'An unknown error has occurred',
            },
          ]);
        }
        const hold = takeFault(method, url.pathname, 'hold');
        const out = await api(req, url);
        if (hold) {
          let gone = false;
          res.once('close', () => (gone = !res.writableFinished));
          await new Promise<void>((r) => {
            const timer = setTimeout(r, hold.holdMs);
            res.once('close', () => {
              clearTimeout(timer);
              r();
            });
          });
          if (gone) {
            seen.status = 0; // applied; the caller gave up before the answer
            return;
          }
        }
        send(res, 200, { success: true, errors: [], messages: [], ...out });
      } catch (err) {
        const e =
          err instanceof ApiError
            ? err
            : new ApiError(500, [{ code: 10013, message: 'An unknown error has occurred' }]);
        if (!(err instanceof ApiError)) console.error('fake cloudflare:', err);
        req.resume();
        send(res, e.status, { success: false, errors: e.errors, messages: [], result: null });
      }
    })();
  });

  /** workers.dev: `/{script}/…` runs the script's current deployment, honouring version overrides. */
  const workersServer = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const [, name, ...rest] = url.pathname.split('/');
    const failing = workerFaults.get(decodeURIComponent(name ?? ''));
    if (failing) {
      req.resume();
      res.writeHead(failing, { 'content-type': 'text/plain' });
      res.end('error code: 1101');
      return;
    }
    const s = scripts.get(decodeURIComponent(name ?? ''));
    const dep = s ? current(s) : null;
    if (!s || !dep) {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('error code: 1042');
      return;
    }
    const override = parseOverrides(req.headers['cloudflare-workers-version-overrides'])[s.name];
    let versionId = override && dep.versions.some((v) => v.version_id === override) ? override : null;
    if (!versionId) {
      let pick = Math.random() * 100;
      for (const v of dep.versions) {
        if (v.percentage <= 0) continue;
        versionId = v.version_id;
        pick -= v.percentage;
        if (pick < 0) break;
      }
    }
    const version = s.versions.find((v) => v.id === versionId);
    if (!version) {
      res.writeHead(503, { 'content-type': 'text/plain' });
      res.end('error code: 1101');
      return;
    }
    const abort = new AbortController();
    res.on('close', () => abort.abort());
    const headers = new Headers();
    for (const [k, v] of Object.entries(req.headers)) {
      if (typeof v === 'string') headers.set(k, v);
      else if (Array.isArray(v)) headers.set(k, v.join(', '));
    }
    headers.set('MF-Disable-Pretty-Error', '1');
    const hasBody = req.method !== 'GET' && req.method !== 'HEAD';
    void (async () => {
      try {
        const target = `http://${s.name}.${subdomain}.workers.dev/${rest.join('/')}${url.search}`;
        const answer = await runner.fetch(runnable(version), target, {
          method: req.method ?? 'GET',
          headers,
          ...(hasBody ? { body: Readable.toWeb(req) as ReadableStream, duplex: 'half' as const } : {}),
          signal: abort.signal,
        });
        const out: Record<string, string> = {};
        // fetch() has decoded a compressed body, so its length no longer holds
        const decoded = answer.headers.has('content-encoding');
        answer.headers.forEach((v, k) => {
          if (k === 'transfer-encoding' || (decoded && (k === 'content-length' || k === 'content-encoding'))) return;
          out[k] = v;
        });
        res.writeHead(answer.status, out);
        if (answer.body) {
          for await (const chunk of answer.body as unknown as AsyncIterable<Uint8Array>) res.write(chunk);
        }
        res.end();
      } catch {
        if (!res.headersSent) {
          res.writeHead(500, { 'content-type': 'text/plain' });
          res.end('error code: 1101');
        } else res.destroy();
      }
    })();
  });

  const listen = (server: Server) =>
    new Promise<number>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port));
    });
  const apiPort = await listen(apiServer);
  const workersPort = await listen(workersServer);

  return {
    apiUrl: `http://127.0.0.1:${apiPort}/client/v4`,
    workersUrl: `http://127.0.0.1:${workersPort}/{script}`,
    apiToken,
    accountId,
    requests,
    failNext(count, status, match = {}) {
      const fault: Fault = { ...match, count, status };
      faults.push(fault);
      return () => {
        fault.count = 0;
      };
    },
    holdNext(count, ms, match) {
      faults.push({ ...match, count, holdMs: ms });
    },
    failWorker(script, status) {
      workerFaults.set(script, status);
      return () => workerFaults.delete(script);
    },
    scripts: () => [...scripts.keys()],
    versionsOf: (name) =>
      (scripts.get(name)?.versions ?? []).map((v) => ({
        id: v.id,
        bindings: v.bindings.map((b) => ({ ...b })),
        annotations: v.annotations,
      })),
    activeDeployment: (name) => {
      const s = scripts.get(name);
      return s ? current(s) : null;
    },
    running: () => runner.running,
    async close() {
      apiServer.closeAllConnections();
      workersServer.closeAllConnections();
      await Promise.all([
        new Promise((r) => apiServer.close(r)),
        new Promise((r) => workersServer.close(r)),
        runner.close(),
      ]);
    },
  };
}

/** `Cloudflare-Workers-Version-Overrides`, an RFC 8941 dictionary of strings: `name="version-id"`. */
function parseOverrides(header: string | string[] | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  const text = Array.isArray(header) ? header.join(',') : (header ?? '');
  for (const m of text.matchAll(/\s*([a-z*][a-z0-9_\-.*]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*(?:,|$)/g)) {
    out[m[1]!] = m[2]!.replace(/\\(.)/g, '$1');
  }
  return out;
}
