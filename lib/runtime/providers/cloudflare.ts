import { createHash } from 'node:crypto';
import { Agent, request, type Dispatcher } from 'undici';
import Cloudflare, { APIError } from 'cloudflare';
import type { Version as WorkerVersion } from 'cloudflare/resources/workers/beta/workers/versions';
import { SESSION_HEADER } from '../../contracts/index.js';
import { PermanentFailure } from '../../../workflows/failures.js';
import {
  ProviderError,
  type AgentResponse,
  type DeployVersionInput,
  type DeployVersionResult,
  type HealthCheckResult,
  type InvokeRequest,
  type RuntimeProvider,
  type WorkerBundle,
} from '../provider.js';
import {
  INVOKE_TOKEN_BINDING,
  INVOKE_TOKEN_HEADER,
  PLATFORM_BINDINGS,
  PLATFORM_SECRET_BINDINGS,
  TELEMETRY_KEY_BINDING,
  telemetryBindings,
} from '../shim/index.js';

/** What the api says when the `cloudflare` runtime is asked for but not configured (`runtime_unavailable`). */
export const CLOUDFLARE_UNAVAILABLE_MESSAGE =
  'the cloudflare runtime is not configured on this platform: set CLOUDFLARE_API_TOKEN and CLOUDFLARE_ACCOUNT_ID ' +
  '(optionally CLOUDFLARE_BASE_URL for another API endpoint and CLOUDFLARE_WORKERS_URL for where Workers answer)';

/** Workers compatibility date every uploaded version runs with (the same as the local runtime's). */
const COMPATIBILITY_DATE = '2025-09-01';
const COMPATIBILITY_FLAGS = ['nodejs_compat'];
const MODULE_TYPE = 'application/javascript+module';
/** The version of a new script before any agent version is activated; it answers every request itself. */
const PLACEHOLDER_MODULE = 'webhost-placeholder.js';
const PLACEHOLDER_TAG = 'webhost/placeholder';
const MIGRATION_MODULE = 'webhost-migration.js';
/** Set by the placeholder on its answers, so a request it took is known not to have reached the agent. */
const PLACEHOLDER_HEADER = 'x-webhost-placeholder';
const OVERRIDE_HEADER = 'Cloudflare-Workers-Version-Overrides';
/** The shim's refusal of a call with another deployment's token (lib/runtime/shim): that version is not the one asked for. */
const SHIM_REFUSAL = 'this agent is reached through the webhost gateway only';
/** Versions looked at, newest first, to find the one a deployment already uploaded (a retried deploy is seconds later). */
const VERSION_SCAN = 100;

export interface CloudflareConfig {
  apiToken: string;
  accountId: string;
  baseURL?: string;
  /** Where a script answers, `{script}` replaced by its name; default `https://{script}.<account subdomain>.workers.dev`. */
  workersUrl?: string;
}

export interface CloudflareProviderOptions extends CloudflareConfig {
  /** The invoke token of a deployment (lib/auth/platform-keys.ts). */
  invokeToken: (deploymentId: string) => string;
  /**
   * The shim's telemetry: each deployment's key (a secret binding) and the api's public
   * `POST /v1/telemetry` URL (a Worker reaches the api over the internet). Absent, versions
   * carry no telemetry key and their shims record nothing.
   */
  telemetry?: TelemetryConfig;
  /** How long one Cloudflare API call may take. */
  apiTimeoutMs?: number;
  /** Backstop on an invocation's connection: no answer, or no bytes, for this long ends it. */
  invokeIdleTimeoutMs?: number;
  /** How long a health check waits for `GET /ping`. */
  pingTimeoutMs?: number;
}

/** Where a cloud runtime's shims post telemetry, and with which key. */
export interface TelemetryConfig {
  key: (deploymentId: string) => Buffer;
  /** The api's `POST /v1/telemetry`, as the runtime's agents reach it. */
  url: string;
}

/** The provider's configuration from the environment, or null when the account is not configured. */
export function cloudflareConfigFromEnv(env: NodeJS.ProcessEnv): CloudflareConfig | null {
  const apiToken = env.CLOUDFLARE_API_TOKEN?.trim();
  const accountId = env.CLOUDFLARE_ACCOUNT_ID?.trim();
  if (!apiToken || !accountId) return null;
  const baseURL = env.CLOUDFLARE_BASE_URL?.trim();
  const workersUrl = env.CLOUDFLARE_WORKERS_URL?.trim();
  return { apiToken, accountId, ...(baseURL ? { baseURL } : {}), ...(workersUrl ? { workersUrl } : {}) };
}

/**
 * The one Worker script of an agent. Script names are lowercase letters, digits, `-` and `_`, at
 * most 63 characters, and a workers.dev host label cannot hold `_`: the platform's ids
 * (`agt_<32 hex>`) map one to one onto `wh-agt-<hex>`; anything else onto a hash of it.
 */
export function scriptNameFor(agentId: string): string {
  if (/^[a-z]{3}_[0-9a-f]{1,52}$/.test(agentId)) return `wh-${agentId.replace('_', '-')}`;
  return `wh-x-${createHash('sha256').update(agentId).digest('hex').slice(0, 48)}`;
}

interface Ref {
  script: string;
  versionId: string;
}
type Binding = { name: string; type: string; text?: string; class_name?: string; version_id?: string };
type VersionDetail = WorkerVersion & { bindings?: Binding[] };

/**
 * The `cloudflare` runtime provider: one Worker script per agent on the account, one Worker
 * version per deployment (Versions API), activation and rollback as a deployment of one version
 * at 100 %, invocation at the script's workers.dev address with the deployment's invoke token.
 *
 * Why the shape (architecture.md, Runtimes):
 * - A version that is not active is reached with `Cloudflare-Workers-Version-Overrides`, which
 *   Cloudflare applies only to a version of the current deployment: a health check (or an
 *   invocation) of it first deploys it at 0 % next to the active version at 100 %.
 * - Every version carries its deployment's invoke token as a secret binding, so the shim
 *   refuses a request that Cloudflare routed to another deployment's version (an override it did
 *   not apply): the provider then knows the version it asked for did not answer, puts it in the
 *   deployment and asks again — a refused request never reached the agent.
 * - Secrets are bindings of a version. They are applied to the active version (never to a newer
 *   upload that was not activated), and carried over to a version when it is activated.
 * - A version whose `workers/tag` annotation is a deployment id belongs to that deployment; a
 *   retried deploy finds it instead of uploading again.
 * - The SDK's own multipart builder is broken in 7.x (cloudflare/cloudflare-typescript#2799):
 *   uploads go as a native `FormData` through the client's raw `post`/`put`.
 * - The SDK does not retry (`maxRetries: 0`): the activity's retry policy does, with failures
 *   mapped to retryable or permanent `ProviderError`s whose messages never hold a secret.
 */
export class CloudflareProvider implements RuntimeProvider {
  readonly runtime = 'cloudflare' as const;
  private readonly cf: Cloudflare;
  private readonly pool: Agent;
  private workersBase: Promise<string> | null = null;

  constructor(private readonly opts: CloudflareProviderOptions) {
    this.cf = new Cloudflare({
      apiToken: opts.apiToken,
      ...(opts.baseURL ? { baseURL: opts.baseURL } : {}),
      timeout: opts.apiTimeoutMs ?? 30_000,
      maxRetries: 0,
    });
    const idle = opts.invokeIdleTimeoutMs ?? 15 * 60_000;
    this.pool = new Agent({ connections: 128, keepAliveTimeout: 4_000, headersTimeout: idle, bodyTimeout: idle });
  }

  async deployVersion(input: DeployVersionInput): Promise<DeployVersionResult> {
    const script = scriptNameFor(input.agentId);
    let versions = await this.listVersions(script);
    if (versions === null) {
      await this.createScript(script, input.bundle.durableObjectClasses);
      versions = (await this.listVersions(script)) ?? [];
    }
    const existing = versions
      .filter((v) => v.annotations?.['workers/tag'] === input.deploymentId)
      .sort((a, b) => a.number - b.number)[0];
    if (existing) return { versionRef: formatRef({ script, versionId: existing.id }) };

    const active = await this.activeVersion(script);
    const migrated = new Set(
      versions.flatMap((v) => (v.bindings ?? []).filter(isDurableObject).map((b) => String(b.class_name))),
    );
    const missing = input.bundle.durableObjectClasses.filter((c) => !migrated.has(c));
    if (missing.length > 0) await this.migrate(script, missing, active?.id ?? null, versions[0]?.migration_tag ?? null);

    // the agent's current secrets, so a health check sees them; activation brings them up to date
    const secrets = active ? agentSecrets(active) : [];
    // As on every runtime: a secret shadows a var of its name, and nothing shadows the platform's token.
    const taken = new Set<string>([...secrets, ...PLATFORM_BINDINGS]);
    const telemetry = this.opts.telemetry
      ? telemetryBindings({
          deploymentId: input.deploymentId,
          agentId: input.agentId,
          key: this.opts.telemetry.key(input.deploymentId),
          url: this.opts.telemetry.url,
        })
      : {};
    const bindings: Binding[] = [
      ...Object.entries(input.vars ?? {})
        .filter(([name]) => !taken.has(name))
        .map(([name, text]) => ({ type: 'plain_text', name, text })),
      ...secrets.map((name) => inherit(name, active!.id)),
      ...input.bundle.durableObjectClasses.map((c) => ({ type: 'durable_object_namespace', name: c, class_name: c })),
      { type: 'secret_text', name: INVOKE_TOKEN_BINDING, text: this.opts.invokeToken(input.deploymentId) },
      ...Object.entries(telemetry).map(([name, text]) => ({
        type: name === TELEMETRY_KEY_BINDING ? 'secret_text' : 'plain_text',
        name,
        text,
      })),
    ];
    const id = await this.uploadVersion(script, {
      mainModule: input.bundle.mainModule,
      modules: input.bundle.modules,
      bindings,
      tag: input.deploymentId,
      message: input.deploymentId,
    });
    return { versionRef: formatRef({ script, versionId: id }) };
  }

  async activateVersion(input: { agentId: string; versionRef: string }): Promise<void> {
    const ref = this.ownRef(input.agentId, input.versionRef);
    const deployment = await this.currentDeployment(ref.script);
    const activeId = deployment?.versions.find((v) => v.percentage === 100)?.version_id ?? null;
    if (activeId === ref.versionId) return;
    const target = await this.version(ref.script, ref.versionId, true);
    if (!target) throw versionGone(input.versionRef);
    const active = activeId ? await this.version(ref.script, activeId, false) : null;
    const tag = target.annotations?.['workers/tag'];
    // already serving: this version's deployment, re-made with the agent's secrets by an earlier try
    if (tag && active?.annotations?.['workers/tag'] === tag) return;
    const activeSecrets = active ? agentSecrets(active) : [];
    let serve = ref.versionId;
    if (activeSecrets.length > 0 || agentSecrets(target).length > 0) {
      // The secrets the agent has now are the active version's; the target may hold older ones.
      serve = await this.uploadVersion(ref.script, {
        ...modulesOf(target),
        bindings: [
          ...(target.bindings ?? []).filter((b) => !isSecret(b)),
          ...platformSecrets(target).map((name) => inherit(name, target.id)),
          ...activeSecrets.map((name) => inherit(name, active!.id)),
        ],
        tag: tag ?? '',
        message: `${tag ?? target.id} with the agent's secrets`,
      });
    }
    await this.call('activate a version', () =>
      this.cf.workers.scripts.deployments.create(ref.script, {
        account_id: this.opts.accountId,
        strategy: 'percentage',
        versions: [{ version_id: serve, percentage: 100 }],
      }),
    );
  }

  /**
   * Cloudflare keeps every version of a script; the Workers API deletes one that no deployment
   * holds. The active version cannot be removed (activate another first); a version held at 0 %
   * for a health check is taken out of the deployment first.
   */
  async removeVersion(input: { agentId: string; versionRef: string }): Promise<void> {
    const ref = this.ownRef(input.agentId, input.versionRef);
    const deployment = await this.currentDeployment(ref.script).catch((err: unknown) => {
      if (isNotFound(err)) return null;
      throw err;
    });
    const held = deployment?.versions.find((v) => v.version_id === ref.versionId);
    if (held && held.percentage > 0) {
      throw new ProviderError('permanent', `version ${input.versionRef} serves the agent: activate another one first`);
    }
    if (held) {
      const active = deployment!.versions.find((v) => v.percentage === 100)!;
      await this.deploy(ref.script, [{ version_id: active.version_id, percentage: 100 }]);
    }
    await this.call('remove a version', async () => {
      try {
        await this.cf.workers.beta.workers.versions.delete(ref.versionId, {
          account_id: this.opts.accountId,
          worker_id: ref.script,
        });
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
    });
  }

  async healthCheck(input: { versionRef: string }): Promise<HealthCheckResult> {
    const ref = parseRef(input.versionRef);
    const version = await this.version(ref.script, ref.versionId, false);
    if (!version) throw versionGone(input.versionRef);
    const deploymentId = version.annotations?.['workers/tag'];
    if (!deploymentId) throw versionGone(input.versionRef);
    await this.makeReachable(ref);
    const signal = AbortSignal.timeout(this.opts.pingTimeoutMs ?? 10_000);
    try {
      const res = await this.send(ref, deploymentId, 'GET', '/ping', { accept: '*/*' }, null, signal);
      const text = await head(res.body, 500);
      if (res.headers[PLACEHOLDER_HEADER] || (res.statusCode === 401 && text.includes(SHIM_REFUSAL))) {
        return { ok: false, status: null, detail: 'Cloudflare did not route the check to this version yet' };
      }
      return { ok: res.statusCode === 200, status: res.statusCode, detail: text };
    } catch (err) {
      return { ok: false, status: null, detail: `no answer: ${errorText(err)}` };
    }
  }

  async invoke(input: InvokeRequest): Promise<AgentResponse> {
    const ref = parseRef(input.versionRef);
    const headers = {
      ...input.traceHeaders,
      'content-type': 'application/json',
      accept: input.accept,
      [SESSION_HEADER]: input.sessionId,
      'x-request-id': input.requestId,
    };
    const attempt = async () => {
      const res = await this.send(ref, input.deploymentId, 'POST', '/invocations', headers, input.body, input.signal);
      return answer(res, input.versionRef);
    };
    let first = await attempt();
    if (first.kind === 'answer') return first.response;
    // Another version took the request (the override was not applied) and refused it before the
    // agent ran: put this version in the deployment and ask again, once.
    await this.makeReachable(ref);
    first = await attempt();
    if (first.kind === 'answer') return first.response;
    throw new ProviderError(
      'retryable',
      `version ${input.versionRef} is not reachable yet; Cloudflare routed elsewhere`,
    );
  }

  async setSecret(input: { agentId: string; name: string; value: string }): Promise<void> {
    const script = scriptNameFor(input.agentId);
    const update = () =>
      this.cf.workers.scripts.secrets.update(script, {
        account_id: this.opts.accountId,
        name: input.name,
        text: input.value,
        type: 'secret_text',
      });
    await this.call('set a secret', async () => {
      try {
        await update();
      } catch (err) {
        if (isNotFound(err) && (await this.listVersions(script)) === null) {
          // no version yet: the placeholder holds the agent's secrets until its first deploy
          await this.createScript(script, []);
          await update();
        } else if (hasCode(err, 10215)) {
          await this.changeActiveSecret(script, input.name, input.value);
        } else throw err;
      }
    });
  }

  async deleteSecret(input: { agentId: string; name: string }): Promise<void> {
    const script = scriptNameFor(input.agentId);
    await this.call('delete a secret', async () => {
      try {
        await this.cf.workers.scripts.secrets.delete(input.name, {
          account_id: this.opts.accountId,
          script_name: script,
        });
      } catch (err) {
        if (hasCode(err, 10215)) await this.changeActiveSecret(script, input.name, null);
        else if (!isNotFound(err)) throw err;
      }
    });
  }

  async destroyAgent(input: { agentId: string }): Promise<void> {
    const script = scriptNameFor(input.agentId);
    await this.call('delete the agent', async () => {
      try {
        await this.cf.workers.scripts.delete(script, { account_id: this.opts.accountId, force: true });
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
    });
  }

  async close(): Promise<void> {
    await this.pool.close();
  }

  /**
   * Cloudflare applies a secret change to the latest version and refuses (10215) when that is
   * not the one deployed at 100 %. The platform's rule is that a secret goes to the active
   * version: a new version from it, with the secret changed, deployed at 100 %.
   */
  private async changeActiveSecret(script: string, name: string, value: string | null): Promise<void> {
    const active = await this.activeVersion(script, true);
    if (!active) throw new ProviderError('retryable', `the agent's Worker ${script} serves no version yet`);
    if (value === null && !agentSecrets(active).includes(name)) return;
    const id = await this.uploadVersion(script, {
      ...modulesOf(active),
      bindings: [
        ...(active.bindings ?? [])
          .filter((b) => b.name !== name)
          .map((b) => (isSecret(b) ? inherit(b.name, active.id) : b)),
        ...(value === null ? [] : [{ type: 'secret_text', name, text: value }]),
      ],
      tag: active.annotations?.['workers/tag'] ?? '',
      message: `secret ${name} ${value === null ? 'deleted' : 'set'}`,
    });
    await this.deploy(script, [{ version_id: id, percentage: 100 }]);
  }

  /** Puts the version in the current deployment at 0 %, next to the active one, so overrides reach it. */
  private async makeReachable(ref: Ref): Promise<void> {
    const deployment = await this.currentDeployment(ref.script);
    if (deployment?.versions.some((v) => v.version_id === ref.versionId)) return;
    if (!(await this.version(ref.script, ref.versionId, false))) throw versionGone(formatRef(ref));
    const active = deployment?.versions.find((v) => v.percentage === 100)?.version_id;
    await this.deploy(
      ref.script,
      active
        ? [
            { version_id: active, percentage: 100 },
            { version_id: ref.versionId, percentage: 0 },
          ]
        : [{ version_id: ref.versionId, percentage: 100 }],
    );
  }

  /** A new script serving a placeholder, with the Durable Object classes the first version needs migrated. */
  private async createScript(script: string, classes: string[]): Promise<void> {
    const placeholder = `export default { fetch() {
  return new Response(JSON.stringify({ error: { code: 'not_deployed', message: 'no version of this agent is active' } }), {
    status: 503, headers: { 'content-type': 'application/json', '${PLACEHOLDER_HEADER}': '1' } });
} };
${classes.map(stubClass).join('\n')}`;
    await this.upload('PUT', `/accounts/${this.opts.accountId}/workers/scripts/${script}`, 'create the agent Worker', {
      metadata: {
        main_module: PLACEHOLDER_MODULE,
        compatibility_date: COMPATIBILITY_DATE,
        annotations: { 'workers/tag': PLACEHOLDER_TAG, 'workers/message': 'webhost placeholder' },
        bindings: classes.map((c) => ({ type: 'durable_object_namespace', name: c, class_name: c })),
        ...(classes.length > 0 ? { migrations: { new_tag: migrationTag(classes), new_sqlite_classes: classes } } : {}),
      },
      modules: { [PLACEHOLDER_MODULE]: placeholder },
    });
  }

  /**
   * Durable Object classes are created by a migration, which only a script upload
   * (`scripts.update`) carries and which deploys what it uploads. So the upload is the active
   * version unchanged, re-exported, plus a stub for each new class: what serves stays the same.
   */
  private async migrate(script: string, classes: string[], activeId: string | null, oldTag: string | null) {
    const active = activeId ? await this.version(script, activeId, true) : null;
    if (!active?.main_module)
      throw new ProviderError('retryable', `the agent's Worker ${script} serves no version yet`);
    const { mainModule, modules } = modulesOf(active);
    const wrapper = `export * from './${mainModule}';
export { default } from './${mainModule}';
${classes.map(stubClass).join('\n')}`;
    await this.upload('PUT', `/accounts/${this.opts.accountId}/workers/scripts/${script}`, 'migrate Durable Objects', {
      metadata: {
        main_module: MIGRATION_MODULE,
        compatibility_date: active.compatibility_date ?? COMPATIBILITY_DATE,
        compatibility_flags: active.compatibility_flags ?? [],
        annotations: {
          ...(active.annotations?.['workers/tag'] ? { 'workers/tag': active.annotations['workers/tag'] } : {}),
          'workers/message': 'Durable Object migration',
        },
        bindings: [
          ...(active.bindings ?? []).map((b) => (isSecret(b) ? inherit(b.name, active.id) : b)),
          ...classes.map((c) => ({ type: 'durable_object_namespace', name: c, class_name: c })),
        ],
        migrations: {
          ...(oldTag ? { old_tag: oldTag } : {}),
          new_tag: migrationTag([oldTag ?? '', ...classes]),
          new_sqlite_classes: classes,
        },
      },
      modules: { ...modules, [MIGRATION_MODULE]: wrapper },
    });
  }

  private async uploadVersion(
    script: string,
    v: { mainModule: string; modules: Record<string, string>; bindings: Binding[]; tag: string; message: string },
  ): Promise<string> {
    const result = await this.upload<{ id?: string }>(
      'POST',
      `/accounts/${this.opts.accountId}/workers/scripts/${script}/versions`,
      'upload a version',
      {
        metadata: {
          main_module: v.mainModule,
          compatibility_date: COMPATIBILITY_DATE,
          compatibility_flags: COMPATIBILITY_FLAGS,
          bindings: v.bindings,
          annotations: { 'workers/message': v.message.slice(0, 1000), 'workers/tag': v.tag.slice(0, 100) },
        },
        modules: v.modules,
      },
    );
    if (!result.id) throw new ProviderError('retryable', 'Cloudflare answered an upload without a version id');
    return result.id;
  }

  /** A multipart upload as the API wants it: a `metadata` JSON part and one part per module. */
  private async upload<T>(
    method: 'PUT' | 'POST',
    path: string,
    what: string,
    body: { metadata: Record<string, unknown>; modules: Record<string, string> },
  ): Promise<T> {
    const form = new FormData();
    form.append('metadata', JSON.stringify(body.metadata));
    for (const [name, content] of Object.entries(body.modules)) {
      form.append(name, new File([content], name, { type: MODULE_TYPE }));
    }
    const send = method === 'PUT' ? this.cf.put.bind(this.cf) : this.cf.post.bind(this.cf);
    const envelope = await this.call(what, () => send<{ result: T }>(path, { body: form }), true);
    return envelope.result;
  }

  private deploy(script: string, versions: { version_id: string; percentage: number }[]) {
    return this.call('deploy', () =>
      this.cf.workers.scripts.deployments.create(script, {
        account_id: this.opts.accountId,
        strategy: 'percentage',
        versions,
      }),
    );
  }

  private async currentDeployment(
    script: string,
  ): Promise<{ versions: { version_id: string; percentage: number }[] } | null> {
    const envelope = await this.call('read the deployment', () =>
      this.cf.get<{ result: { deployments: { versions: { version_id: string; percentage: number }[] }[] } }>(
        `/accounts/${this.opts.accountId}/workers/scripts/${script}/deployments`,
      ),
    );
    return envelope.result.deployments[0] ?? null;
  }

  /** The version deployed at 100 %, with its bindings (and modules when asked), or null. */
  private async activeVersion(script: string, withModules = false): Promise<VersionDetail | null> {
    const deployment = await this.currentDeployment(script);
    const id = deployment?.versions.find((v) => v.percentage === 100)?.version_id;
    return id ? this.version(script, id, withModules) : null;
  }

  /** Newest first, or null when the script does not exist. */
  private async listVersions(script: string): Promise<VersionDetail[] | null> {
    try {
      const page = await this.call('list versions', () =>
        this.cf.workers.beta.workers.versions.list(script, {
          account_id: this.opts.accountId,
          page: 1,
          per_page: VERSION_SCAN,
        }),
      );
      return page.getPaginatedItems() as VersionDetail[];
    } catch (err) {
      if (err instanceof ProviderError && err.type === PermanentFailure.VersionNotFound) return null;
      throw err;
    }
  }

  private async version(script: string, versionId: string, withModules: boolean): Promise<VersionDetail | null> {
    try {
      return (await this.call('read a version', () =>
        this.cf.workers.beta.workers.versions.get(versionId, {
          account_id: this.opts.accountId,
          worker_id: script,
          ...(withModules ? { include: 'modules' as const } : {}),
        }),
      )) as VersionDetail;
    } catch (err) {
      if (err instanceof ProviderError && err.type === PermanentFailure.VersionNotFound) return null;
      throw err;
    }
  }

  private async send(
    ref: Ref,
    deploymentId: string,
    method: 'GET' | 'POST',
    path: string,
    headers: Record<string, string>,
    body: string | null,
    signal: AbortSignal | undefined,
  ): Promise<Dispatcher.ResponseData> {
    const base = await this.workersUrl(ref.script);
    try {
      return await request(`${base}${path}`, {
        method,
        headers: {
          ...headers,
          [OVERRIDE_HEADER]: `${ref.script}="${ref.versionId}"`,
          [INVOKE_TOKEN_HEADER]: this.opts.invokeToken(deploymentId),
        },
        ...(body === null ? {} : { body }),
        dispatcher: this.pool,
        ...(signal ? { signal } : {}),
      });
    } catch (err) {
      if (signal?.aborted) throw err;
      throw new ProviderError('retryable', `the agent's Worker did not answer: ${errorText(err)}`);
    }
  }

  private workersUrl(script: string): Promise<string> {
    if (this.opts.workersUrl) return Promise.resolve(this.opts.workersUrl.replaceAll('{script}', script));
    if (!this.workersBase) {
      const base = this.call('read the workers.dev subdomain', () =>
        this.cf.workers.subdomains.get({ account_id: this.opts.accountId }),
      ).then((r) => `https://{script}.${r.subdomain}.workers.dev`);
      base.catch(() => (this.workersBase = null));
      this.workersBase = base;
    }
    return this.workersBase.then((b) => b.replaceAll('{script}', script));
  }

  private ownRef(agentId: string, versionRef: string): Ref {
    const ref = parseRef(versionRef);
    if (ref.script !== scriptNameFor(agentId)) throw versionGone(versionRef);
    return ref;
  }

  /** One Cloudflare API call, its failure mapped to a `ProviderError` (never quoting what was sent). */
  private async call<T>(what: string, fn: () => PromiseLike<T>, isUpload = false): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw toProviderError(what, err, isUpload);
    }
  }
}

type Answer = { kind: 'answer'; response: AgentResponse } | { kind: 'elsewhere' };

/** The agent's answer, or `elsewhere` when the request was taken by a version of another deployment. */
async function answer(res: Dispatcher.ResponseData, versionRef: string): Promise<Answer> {
  const header = res.headers['content-type'];
  const contentType = (Array.isArray(header) ? header[0] : header) ?? '';
  if (res.headers[PLACEHOLDER_HEADER]) {
    await res.body.dump();
    return { kind: 'elsewhere' };
  }
  if (res.statusCode !== 401 && !(res.statusCode === 404 && contentType.startsWith('text/plain'))) {
    return {
      kind: 'answer',
      response: { status: res.statusCode, contentType, text: () => res.body.text(), body: res.body },
    };
  }
  // A short answer may be the shim's refusal or Cloudflare's own page: look at its start, and
  // hand on an agent's longer answer whole, unread past that start.
  const chunks = res.body[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  const start: Buffer[] = [];
  let size = 0;
  let ended = false;
  while (size < 4096) {
    const next = await chunks.next();
    if (next.done) {
      ended = true;
      break;
    }
    start.push(next.value);
    size += next.value.length;
  }
  const text = Buffer.concat(start).toString('utf8');
  if (ended && res.statusCode === 401 && text.includes(SHIM_REFUSAL)) return { kind: 'elsewhere' };
  // Cloudflare's own page for a host with no Worker behind it
  if (ended && res.statusCode === 404 && /^error code: 10\d\d/.test(text)) throw versionGone(versionRef);
  const body = (async function* () {
    yield* start;
    if (ended) return;
    for (let next = await chunks.next(); !next.done; next = await chunks.next()) yield next.value;
  })();
  return {
    kind: 'answer',
    response: {
      status: res.statusCode,
      contentType,
      text: async () => {
        const rest: Buffer[] = [];
        for await (const chunk of body) rest.push(Buffer.from(chunk));
        return Buffer.concat(rest).toString('utf8');
      },
      body,
    },
  };
}

/** The first `max` bytes of a body, as text; the rest is not read. */
async function head(body: Dispatcher.ResponseData['body'], max: number): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    chunks.push(chunk as Buffer);
    size += (chunk as Buffer).length;
    if (size >= max) break;
  }
  body.destroy();
  return Buffer.concat(chunks).subarray(0, max).toString('utf8');
}

function toProviderError(what: string, err: unknown, isUpload: boolean): ProviderError {
  if (err instanceof ProviderError) return err;
  if (err instanceof APIError) {
    const status = err.status;
    const detail = err.errors.map((e) => `${e.message} (${e.code})`).join('; ') || `HTTP ${status ?? 'error'}`;
    const message = `Cloudflare refused to ${what}: ${detail}`;
    if (status === undefined)
      return new ProviderError('retryable', `Cloudflare could not be reached to ${what}: ${errorText(err)}`);
    if (status === 408 || status === 409 || status === 429 || status >= 500)
      return new ProviderError('retryable', message);
    if (status === 404) return new ProviderError('permanent', message, PermanentFailure.VersionNotFound);
    // 10021: the uploaded code failed validation or threw when Cloudflare started it
    if (isUpload && err.errors.some((e) => e.code === 10021)) {
      return new ProviderError('permanent', `the agent failed to start: ${detail}`, PermanentFailure.AgentStartFailed);
    }
    return new ProviderError('permanent', message);
  }
  return new ProviderError('retryable', `Cloudflare could not be reached to ${what}: ${errorText(err)}`);
}

function isNotFound(err: unknown): boolean {
  return (
    (err instanceof APIError && err.status === 404) ||
    (err instanceof ProviderError && err.type === PermanentFailure.VersionNotFound)
  );
}

function hasCode(err: unknown, code: number): boolean {
  return err instanceof APIError && err.errors.some((e) => e.code === code);
}

function versionGone(versionRef: string): ProviderError {
  return new ProviderError('permanent', `no version ${versionRef} on Cloudflare`, PermanentFailure.VersionNotFound);
}

function formatRef(ref: Ref): string {
  return `${ref.script}/${ref.versionId}`;
}

function parseRef(versionRef: string): Ref {
  const m = /^([a-z0-9][a-z0-9_-]{0,62})\/([0-9a-f-]{8,64})$/.exec(versionRef);
  if (!m) throw versionGone(versionRef);
  return { script: m[1]!, versionId: m[2]! };
}

const isSecret = (b: Binding) => b.type === 'secret_text';
const isDurableObject = (b: Binding) => b.type === 'durable_object_namespace';
const inherit = (name: string, versionId: string): Binding => ({ type: 'inherit', name, version_id: versionId });

const platformSecretNames = new Set<string>(PLATFORM_SECRET_BINDINGS);

/** The secrets the agent set (its env), not the platform's (invoke token, telemetry key). */
function agentSecrets(v: VersionDetail): string[] {
  return (v.bindings ?? []).filter((b) => isSecret(b) && !platformSecretNames.has(b.name)).map((b) => b.name);
}

/** The platform's secrets a version carries: they stay with it when it is re-made with the agent's secrets. */
function platformSecrets(v: VersionDetail): string[] {
  return (v.bindings ?? []).filter((b) => isSecret(b) && platformSecretNames.has(b.name)).map((b) => b.name);
}

function modulesOf(v: VersionDetail): Pick<WorkerBundle, 'mainModule' | 'modules'> {
  if (!v.main_module || !v.modules)
    throw new ProviderError('retryable', `Cloudflare did not return version ${v.id}'s code`);
  return {
    mainModule: v.main_module,
    modules: Object.fromEntries(
      v.modules.map((m) => [m.name, Buffer.from(m.content_base64, 'base64').toString('utf8')]),
    ),
  };
}

function stubClass(name: string): string {
  return `export class ${name} { constructor(state, env) {} fetch() { return new Response('not deployed', { status: 503 }); } }`;
}

function migrationTag(parts: string[]): string {
  return `wh-${createHash('sha256').update(parts.join(',')).digest('hex').slice(0, 16)}`;
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
