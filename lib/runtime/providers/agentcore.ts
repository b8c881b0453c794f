import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import {
  BedrockAgentCoreControlClient,
  CreateAgentRuntimeCommand,
  CreateAgentRuntimeEndpointCommand,
  DeleteAgentRuntimeCommand,
  DeleteAgentRuntimeEndpointCommand,
  GetAgentRuntimeCommand,
  GetAgentRuntimeEndpointCommand,
  ListAgentRuntimeEndpointsCommand,
  ListAgentRuntimesCommand,
  UpdateAgentRuntimeCommand,
  UpdateAgentRuntimeEndpointCommand,
  type AgentRuntimeArtifact,
  type GetAgentRuntimeCommandOutput,
  type GetAgentRuntimeEndpointCommandOutput,
} from '@aws-sdk/client-bedrock-agentcore-control';
import { BedrockAgentCoreClient, InvokeAgentRuntimeCommand } from '@aws-sdk/client-bedrock-agentcore';
import { DeleteObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import {
  AgentStoppedError,
  ProviderError,
  type AgentResponse,
  type DeployVersionInput,
  type DeployVersionResult,
  type HealthCheckResult,
  type InvokeRequest,
  type ProviderErrorKind,
  type RuntimeProvider,
  type WorkerBundle,
} from '../provider.js';
import { INVOKE_TOKEN_BINDING, telemetryBindings } from '../shim/index.js';
import type { TelemetryConfig } from './cloudflare.js';
import {
  DEPLOYMENT_ENV,
  ENVELOPE_CONTENT_TYPE,
  FORWARDED_HEADERS,
  SECRET_PREFIX,
  SERVER_ENTRY,
  VAR_PREFIX,
  serverSource,
} from './agentcore/node-server.js';
import { writeZip } from './agentcore/zip.js';

/** What to set for the `agentcore` runtime; shown when it is asked for but not configured. */
export const AGENTCORE_NOT_CONFIGURED =
  'the agentcore runtime is not configured: set AWS_REGION, WEBHOST_AGENTCORE_ROLE_ARN (the IAM role AgentCore runs ' +
  'agents as; it must read the code bucket) and WEBHOST_AGENTCORE_CODE_BUCKET (the S3 bucket for code artifacts), ' +
  'with AWS credentials from the standard chain (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE, SSO or an ' +
  'instance role). AWS_ENDPOINT_URL_BEDROCK_AGENTCORE_CONTROL, AWS_ENDPOINT_URL_BEDROCK_AGENTCORE and ' +
  'AWS_ENDPOINT_URL_S3 override the endpoints.';

export interface AgentCoreConfig {
  region: string;
  roleArn: string;
  codeBucket: string;
  /** Endpoint overrides; the SDK reads the same variables from `process.env` itself. */
  endpoints: { control?: string; data?: string; s3?: string };
}

/** The `agentcore` runtime's configuration, or null when it is not configured. */
export function agentCoreConfigFromEnv(env: NodeJS.ProcessEnv = process.env): AgentCoreConfig | null {
  const region = env.AWS_REGION?.trim();
  const roleArn = env.WEBHOST_AGENTCORE_ROLE_ARN?.trim();
  const codeBucket = env.WEBHOST_AGENTCORE_CODE_BUCKET?.trim();
  if (!region || !roleArn || !codeBucket) return null;
  const endpoints: AgentCoreConfig['endpoints'] = {};
  if (env.AWS_ENDPOINT_URL_BEDROCK_AGENTCORE_CONTROL)
    endpoints.control = env.AWS_ENDPOINT_URL_BEDROCK_AGENTCORE_CONTROL;
  if (env.AWS_ENDPOINT_URL_BEDROCK_AGENTCORE) endpoints.data = env.AWS_ENDPOINT_URL_BEDROCK_AGENTCORE;
  if (env.AWS_ENDPOINT_URL_S3) endpoints.s3 = env.AWS_ENDPOINT_URL_S3;
  return { region, roleArn, codeBucket, endpoints };
}

export interface AgentCoreProviderOptions {
  region: string;
  roleArn: string;
  codeBucket: string;
  /** The invoke token of a deployment (lib/auth/platform-keys.ts), as the local provider takes it. */
  invokeToken: (deploymentId: string) => string;
  /**
   * The shim's telemetry: each deployment's key and the api's public `POST /v1/telemetry`
   * URL, set in the version's environment beside the invoke token. Absent, no telemetry.
   */
  telemetry?: TelemetryConfig;
  endpoints?: AgentCoreConfig['endpoints'];
  /** Clients made elsewhere (tests); otherwise made here from region and endpoints. */
  clients?: { control?: BedrockAgentCoreControlClient; data?: BedrockAgentCoreClient; s3?: S3Client };
  /** Each control-plane or S3 call (SDK retries included). */
  callTimeoutMs?: number;
  /** How long a new version, or an endpoint's switch, may take to become READY. */
  readyTimeoutMs?: number;
  pollIntervalMs?: number;
  /** An invocation with no bytes for this long is ended. */
  invokeIdleTimeoutMs?: number;
  /** The SDK's attempts per call (its own retry of throttling and 5xx). */
  maxAttempts?: number;
  /** Key prefix of code artifacts in the bucket. */
  codePrefix?: string;
}

/** The endpoint the agent's active version is pinned to. */
export const LIVE_ENDPOINT = 'live';
const DEFAULT_ENDPOINT = 'DEFAULT';
const NAME = /^[a-zA-Z][a-zA-Z0-9_]{0,47}$/;
const FAILED = new Set(['CREATE_FAILED', 'UPDATE_FAILED', 'DELETE_FAILED']);

/** An AgentCore runtime version as AgentCore reports it (GetAgentRuntime). */
type RuntimeVersion = GetAgentRuntimeCommandOutput;
type Endpoint = GetAgentRuntimeEndpointCommandOutput;

interface RuntimeRef {
  id: string;
  arn: string;
}

/**
 * The `agentcore` runtime provider (AWS Bedrock AgentCore Runtime).
 *
 * - One agent runtime per agent (`webhost_<agentId>`). A deployment is one runtime version
 *   (UpdateAgentRuntime makes an immutable version) plus a named endpoint of its own, named
 *   after the deployment, pinned to it. `versionRef` is `<runtime ARN>#<that endpoint>`, so an
 *   invocation of a deployment needs no lookup: `qualifier` is the endpoint (AgentCore's
 *   qualifier is an endpoint name, never a version number).
 * - Activation pins the `live` endpoint to the deployment's version (rollback is the same call).
 * - The code artifact is a zip in S3: the bundle's modules plus a Node server
 *   (agentcore/node-server.ts) that serves the module's `fetch` on :8080 under AgentCore's
 *   container contract, on the NODE_22 code runtime.
 * - AgentCore has no secret store: secrets are environment variables of a version. A secret
 *   change makes a new version, a copy of the one served with the secrets changed, and moves
 *   the endpoints that served the old one (`live` and the deployment's own) to it. Every new
 *   version carries the agent's current secrets, so the latest version always holds them; a
 *   deploy copies them from there, and an activation brings an older version up to date.
 * - The invoke token, the platform session id and the request id reach the server in
 *   `X-Amzn-Bedrock-AgentCore-Runtime-Custom-Webhost-*` headers, allow-listed on the runtime
 *   (`requestHeaderConfiguration`); InvokeAgentRuntime has no header parameters, so a
 *   middleware adds them to the signed request. `runtimeSessionId` is a hash of the session id.
 * - Durable Objects do not exist on AgentCore: a bundle that exports them is refused.
 */
export class AgentCoreProvider implements RuntimeProvider {
  readonly runtime = 'agentcore' as const;
  private readonly control: BedrockAgentCoreControlClient;
  private readonly data: BedrockAgentCoreClient;
  private readonly s3: S3Client;
  private readonly runtimes = new Map<string, RuntimeRef>();
  private readonly callTimeoutMs: number;
  private readonly readyTimeoutMs: number;
  private readonly pollIntervalMs: number;
  private readonly codePrefix: string;

  constructor(private readonly opts: AgentCoreProviderOptions) {
    this.callTimeoutMs = opts.callTimeoutMs ?? 30_000;
    this.readyTimeoutMs = opts.readyTimeoutMs ?? 10 * 60_000;
    this.pollIntervalMs = opts.pollIntervalMs ?? 2_000;
    this.codePrefix = opts.codePrefix ?? 'webhost/';
    const common = { region: opts.region, ...(opts.maxAttempts ? { maxAttempts: opts.maxAttempts } : {}) };
    const control = { connectionTimeout: 10_000, requestTimeout: this.callTimeoutMs };
    this.control =
      opts.clients?.control ??
      new BedrockAgentCoreControlClient({
        ...common,
        requestHandler: control,
        ...(opts.endpoints?.control ? { endpoint: opts.endpoints.control } : {}),
      });
    this.data =
      opts.clients?.data ??
      new BedrockAgentCoreClient({
        ...common,
        requestHandler: { connectionTimeout: 10_000, requestTimeout: opts.invokeIdleTimeoutMs ?? 15 * 60_000 },
        ...(opts.endpoints?.data ? { endpoint: opts.endpoints.data } : {}),
      });
    this.s3 =
      opts.clients?.s3 ??
      new S3Client({
        ...common,
        requestHandler: control,
        ...(opts.endpoints?.s3 ? { endpoint: opts.endpoints.s3, forcePathStyle: true } : {}),
      });
  }

  async deployVersion(input: DeployVersionInput): Promise<DeployVersionResult> {
    if (input.bundle.durableObjectClasses.length > 0) {
      throw new ProviderError(
        'permanent',
        `AgentCore runs no Durable Objects, and this agent exports ${input.bundle.durableObjectClasses.join(', ')}: ` +
          'deploy it to the local or cloudflare runtime, or remove the Durable Object classes',
      );
    }
    const endpointName = endpointNameFor(input.deploymentId);
    let found = await this.findRuntime(input.agentId);
    if (found) {
      // Deployed before (a retried activity): the deployment's endpoint says which version.
      const endpoint = await this.getEndpoint(found.ref.id, endpointName);
      if (endpoint?.targetVersion) {
        await this.waitVersion(found.ref.id, endpoint.targetVersion);
        await this.waitEndpoint(found.ref.id, endpointName, endpoint.targetVersion);
        return { versionRef: versionRefOf(found.ref, endpointName) };
      }
    }

    const artifact = await this.upload(input.agentId, input.bundle);
    const platform = {
      [INVOKE_TOKEN_BINDING]: this.opts.invokeToken(input.deploymentId),
      [DEPLOYMENT_ENV]: input.deploymentId,
      ...(this.opts.telemetry
        ? telemetryBindings({
            deploymentId: input.deploymentId,
            agentId: input.agentId,
            key: this.opts.telemetry.key(input.deploymentId),
            url: this.opts.telemetry.url,
          })
        : {}),
    };
    let version: string | undefined;
    if (!found) {
      const env = environment(platform, input.vars ?? {}, {});
      const created = await this.create(input.agentId, artifact, env, idempotencyToken('create', input.deploymentId));
      if (created.version) {
        found = { ref: created.ref, latest: null };
        version = created.version;
      } else {
        found = await this.findRuntime(input.agentId);
        if (!found) throw new ProviderError('retryable', `AgentCore: the runtime of ${input.agentId} is not there yet`);
      }
    }
    if (version === undefined) {
      const latest = found.latest ?? (await this.getVersion(found.ref.id));
      if (latest.environmentVariables?.[DEPLOYMENT_ENV] === input.deploymentId) {
        version = latest.agentRuntimeVersion!; // an earlier attempt made it
      } else {
        const secrets = secretsOf(latest.environmentVariables);
        const env = environment(platform, input.vars ?? {}, secrets);
        version = await this.update(
          found.ref.id,
          artifact,
          env,
          idempotencyToken('update', input.deploymentId, latest.agentRuntimeVersion ?? ''),
          Object.values(secrets),
        );
      }
    }
    await this.waitVersion(found.ref.id, version);
    await this.pinEndpoint(found.ref.id, endpointName, version, idempotencyToken('endpoint', input.deploymentId));
    return { versionRef: versionRefOf(found.ref, endpointName) };
  }

  async activateVersion(input: { agentId: string; versionRef: string }): Promise<void> {
    const { ref, endpointName } = parseVersionRef(input.versionRef);
    const endpoint = await this.getEndpoint(ref.id, endpointName);
    if (!endpoint?.targetVersion) {
      throw new ProviderError('permanent', `AgentCore: version ${input.versionRef} does not exist (anymore)`);
    }
    const latest = await this.getVersion(ref.id);
    const served = await this.withSecrets(
      ref.id,
      endpoint.targetVersion,
      secretsOf(latest.environmentVariables),
      latest,
    );
    await this.pinEndpoint(ref.id, LIVE_ENDPOINT, served);
  }

  /**
   * Deletes the deployment's endpoint and its version. The version `live` serves stays (the
   * call succeeds and deletes nothing: activate another one first), and so does a version
   * AgentCore will not delete (a runtime keeps at least one); without its endpoint no
   * reference reaches it, and destroying the agent deletes it.
   */
  async removeVersion(input: { agentId: string; versionRef: string }): Promise<void> {
    const { ref, endpointName } = parseVersionRef(input.versionRef);
    const endpoint = await this.getEndpoint(ref.id, endpointName);
    if (!endpoint) return;
    const live = await this.getEndpoint(ref.id, LIVE_ENDPOINT);
    const version = endpoint.targetVersion;
    if (live && version && (live.targetVersion === version || live.liveVersion === version)) return;
    await this.deleteEndpoint(ref.id, endpointName);
    if (!version) return;
    for (let attempt = 1; ; attempt++) {
      try {
        await this.call('DeleteAgentRuntime (version)', (abortSignal) =>
          this.control.send(new DeleteAgentRuntimeCommand({ agentRuntimeId: ref.id, agentRuntimeVersion: version }), {
            abortSignal,
          }),
        );
        return;
      } catch (err) {
        if (isAws(err, 'ResourceNotFoundException')) return;
        if (!isAws(err, 'ConflictException')) throw err;
        // The endpoint that pointed at it may still be going away; or AgentCore keeps the version
        // (a runtime's only one, another endpoint's). Its endpoint is gone, so no reference of
        // ours reaches it any more: that is removal enough.
        if (attempt >= 5) return;
        await sleep(this.pollIntervalMs);
      }
    }
  }

  /**
   * `GET /ping` of the version itself: its endpoint and version must be READY, and the agent's
   * own `/ping`, reached through the Node server and the shim with the deployment's invoke
   * token (AgentCore's data plane only calls /invocations; the server routes a call marked
   * with the path header to `GET /ping`), must answer 200.
   */
  async healthCheck(input: { versionRef: string }): Promise<HealthCheckResult> {
    try {
      const { ref, endpointName } = parseVersionRef(input.versionRef);
      const endpoint = await this.getEndpoint(ref.id, endpointName);
      if (!endpoint) return { ok: false, status: null, detail: 'the version does not exist at AgentCore' };
      if (endpoint.status !== 'READY') {
        return { ok: false, status: null, detail: `its AgentCore endpoint is ${endpoint.status}` };
      }
      const version = await this.getVersion(ref.id, endpoint.liveVersion ?? endpoint.targetVersion);
      if (version.status !== 'READY') {
        return { ok: false, status: null, detail: `its AgentCore runtime version is ${version.status}` };
      }
      const deploymentId = version.environmentVariables?.[DEPLOYMENT_ENV];
      if (!deploymentId) return { ok: false, status: null, detail: 'the version carries no deployment' };
      const res = await this.send({
        versionRef: input.versionRef,
        deploymentId,
        body: '{}',
        sessionId: `health-check-${deploymentId}`,
        accept: 'application/json',
        requestId: `health-${deploymentId}`,
        signal: AbortSignal.timeout(this.callTimeoutMs),
        path: '/ping',
      });
      const text = await res.text();
      const ok = res.status === 200;
      return { ok, status: res.status, detail: ok ? 'ok' : `GET /ping answered ${res.status}: ${text.slice(0, 500)}` };
    } catch (err) {
      return { ok: false, status: null, detail: err instanceof Error ? err.message : String(err) };
    }
  }

  invoke(input: InvokeRequest): Promise<AgentResponse> {
    return this.send(input);
  }

  async setSecret(input: { agentId: string; name: string; value: string }): Promise<void> {
    await this.changeSecrets(input.agentId, (secrets) => ({ ...secrets, [input.name]: input.value }));
  }

  async deleteSecret(input: { agentId: string; name: string }): Promise<void> {
    await this.changeSecrets(input.agentId, (secrets) => {
      const { [input.name]: _gone, ...rest } = secrets;
      return rest;
    });
  }

  /** Deletes the agent's endpoints, its runtime (every version) and its code artifacts; repeatable. */
  async destroyAgent(input: { agentId: string }): Promise<void> {
    this.runtimes.delete(input.agentId);
    const ref = await this.listRuntime(input.agentId);
    if (ref) {
      for (const name of await this.endpointNames(ref.id)) {
        if (name !== DEFAULT_ENDPOINT) await this.deleteEndpoint(ref.id, name);
      }
      try {
        await this.call('DeleteAgentRuntime', (abortSignal) =>
          this.control.send(new DeleteAgentRuntimeCommand({ agentRuntimeId: ref.id }), { abortSignal }),
        );
      } catch (err) {
        if (!isAws(err, 'ResourceNotFoundException')) throw this.mapped('DeleteAgentRuntime', err);
      }
    }
    await this.deleteArtifacts(input.agentId);
  }

  // ---- invocations ----

  private async send(input: InvokeRequest & { path?: '/ping' }): Promise<AgentResponse> {
    const { ref, endpointName } = parseVersionRef(input.versionRef);
    const command = new InvokeAgentRuntimeCommand({
      agentRuntimeArn: ref.arn,
      qualifier: endpointName,
      runtimeSessionId: runtimeSessionId(ref.arn, input.sessionId),
      contentType: 'application/json',
      accept: input.accept,
      payload: Buffer.from(input.body.length > 0 ? input.body : '{}'),
      // AgentCore's own trace context parameters, passed on to the runtime's container
      ...(input.traceHeaders?.traceparent ? { traceParent: input.traceHeaders.traceparent } : {}),
      ...(input.traceHeaders?.tracestate ? { traceState: input.traceHeaders.tracestate } : {}),
    });
    const forwarded: Record<string, string> = {
      [FORWARDED_HEADERS.invokeToken]: this.opts.invokeToken(input.deploymentId),
      [FORWARDED_HEADERS.sessionId]: input.sessionId,
      [FORWARDED_HEADERS.requestId]: input.requestId,
      ...(input.path ? { [FORWARDED_HEADERS.path]: input.path } : {}),
    };
    command.middlewareStack.add(
      (next) => async (args) => {
        const request = args.request as { headers?: Record<string, string> };
        if (request.headers) Object.assign(request.headers, forwarded);
        return next(args);
      },
      { step: 'build', name: 'webhostForwardedHeaders' },
    );
    let out;
    try {
      out = await this.data.send(command, input.signal ? { abortSignal: input.signal } : {});
    } catch (err) {
      if (input.signal?.aborted) throw err;
      if (isAws(err, 'ResourceNotFoundException')) {
        throw new ProviderError('permanent', `AgentCore: version ${input.versionRef} does not exist (anymore)`);
      }
      // AgentCore's answer when the container failed: it crashed, or answered outside the contract.
      if (isAws(err, 'RuntimeClientError')) throw new AgentStoppedError(messageOf(err));
      throw this.mapped('InvokeAgentRuntime', err);
    }
    const stream = out.response as (Readable & { transformToString(): Promise<string> }) | undefined;
    const contentType = out.contentType ?? '';
    if (!stream) return fixedResponse(out.statusCode ?? 200, contentType, Buffer.alloc(0));
    if (input.signal) {
      const signal = input.signal;
      const abort = () => stream.destroy(signal.reason instanceof Error ? signal.reason : new Error('aborted'));
      signal.addEventListener('abort', abort, { once: true });
      stream.once('close', () => signal.removeEventListener('abort', abort));
    }
    if (contentType.startsWith(ENVELOPE_CONTENT_TYPE)) {
      const envelope = JSON.parse(await stream.transformToString()) as {
        status: number;
        contentType: string;
        body: string;
      };
      return fixedResponse(envelope.status, envelope.contentType, Buffer.from(envelope.body, 'base64'));
    }
    return {
      status: out.statusCode ?? 200,
      contentType,
      text: () => stream.transformToString(),
      body: stream,
    };
  }

  // ---- secrets ----

  private async changeSecrets(
    agentId: string,
    change: (secrets: Record<string, string>) => Record<string, string>,
  ): Promise<void> {
    const found = await this.findRuntime(agentId);
    if (!found) {
      const secrets = change({});
      if (Object.keys(secrets).length === 0) return;
      // Nothing deployed yet: the runtime starts with a placeholder version that keeps the secrets.
      const artifact = await this.upload(agentId, PLACEHOLDER_BUNDLE);
      const created = await this.create(agentId, artifact, environment({}, {}, secrets), undefined);
      if (created.version) {
        await this.waitVersion(created.ref.id, created.version);
        return;
      }
      return this.changeSecrets(agentId, change);
    }
    const latest = found.latest ?? (await this.getVersion(found.ref.id));
    const secrets = change(secretsOf(latest.environmentVariables));
    const live = await this.getEndpoint(found.ref.id, LIVE_ENDPOINT);
    const source = live?.targetVersion ?? latest.agentRuntimeVersion!;
    await this.withSecrets(found.ref.id, source, secrets, latest);
  }

  /**
   * The version that runs `source`'s code, vars and token with `secrets`: `source` itself when
   * it has them, else a new version copied from it. Every endpoint that served `source` moves
   * to the new one. Returns the version.
   */
  private async withSecrets(
    runtimeId: string,
    source: string,
    secrets: Record<string, string>,
    latest: RuntimeVersion,
  ): Promise<string> {
    const from = source === latest.agentRuntimeVersion ? latest : await this.getVersion(runtimeId, source);
    if (sameRecord(secretsOf(from.environmentVariables), secrets)) return source;
    const env = { ...withoutSecrets(from.environmentVariables), ...secretEnv(secrets) };
    let target: string;
    if (
      latest.agentRuntimeVersion !== source &&
      sameRecord(latest.environmentVariables ?? {}, env) &&
      JSON.stringify(latest.agentRuntimeArtifact) === JSON.stringify(from.agentRuntimeArtifact)
    ) {
      target = latest.agentRuntimeVersion!; // an earlier attempt made it
    } else {
      if (!from.agentRuntimeArtifact)
        throw new ProviderError('permanent', `AgentCore: version ${source} has no artifact`);
      // No client token: the copy above is how a retry finds what an earlier attempt made.
      target = await this.update(runtimeId, from.agentRuntimeArtifact, env, undefined, Object.values(secrets));
    }
    await this.waitVersion(runtimeId, target);
    for (const endpoint of await this.endpoints(runtimeId)) {
      if (endpoint.name !== DEFAULT_ENDPOINT && endpoint.targetVersion === source) {
        await this.pinEndpoint(runtimeId, endpoint.name!, target);
      }
    }
    return target;
  }

  // ---- runtimes and versions ----

  private async upload(agentId: string, bundle: WorkerBundle): Promise<AgentRuntimeArtifact> {
    const zip = writeZip({
      ...bundle.modules,
      'package.json': JSON.stringify({ type: 'module', private: true }),
      [SERVER_ENTRY]: serverSource(bundle.mainModule),
    });
    const key = `${this.codePrefix}${runtimeNameOf(agentId)}/${createHash('sha256').update(zip).digest('hex')}.zip`;
    await this.call('PutObject', (abortSignal) =>
      this.s3.send(
        new PutObjectCommand({ Bucket: this.opts.codeBucket, Key: key, Body: zip, ContentType: 'application/zip' }),
        { abortSignal },
      ),
    );
    return {
      codeConfiguration: {
        code: { s3: { bucket: this.opts.codeBucket, prefix: key } },
        runtime: 'NODE_22',
        entryPoint: [SERVER_ENTRY],
      },
    };
  }

  /** Creates the agent's runtime; `version` is undefined when another call created it first. */
  private async create(
    agentId: string,
    artifact: AgentRuntimeArtifact,
    env: Record<string, string>,
    clientToken: string | undefined,
  ): Promise<{ ref: RuntimeRef; version?: string }> {
    try {
      const out = await this.call(
        'CreateAgentRuntime',
        (abortSignal) =>
          this.control.send(
            new CreateAgentRuntimeCommand({
              agentRuntimeName: runtimeNameOf(agentId),
              description: `webhost.systems agent ${agentId}`,
              agentRuntimeArtifact: artifact,
              roleArn: this.opts.roleArn,
              networkConfiguration: { networkMode: 'PUBLIC' },
              protocolConfiguration: { serverProtocol: 'HTTP' },
              requestHeaderConfiguration: { requestHeaderAllowlist: Object.values(FORWARDED_HEADERS) },
              environmentVariables: env,
              ...(clientToken ? { clientToken } : {}),
            }),
            { abortSignal },
          ),
        Object.values(secretsOf(env)),
      );
      const ref = { id: out.agentRuntimeId!, arn: out.agentRuntimeArn! };
      this.runtimes.set(agentId, ref);
      return { ref, version: out.agentRuntimeVersion! };
    } catch (err) {
      // The name is taken: another attempt created it.
      if (isAws(err, 'ConflictException')) return { ref: { id: '', arn: '' } };
      throw err;
    }
  }

  /** A new version of the runtime; returns its number. */
  private async update(
    runtimeId: string,
    artifact: AgentRuntimeArtifact,
    env: Record<string, string>,
    clientToken: string | undefined,
    secretValues: string[],
  ): Promise<string> {
    const out = await this.call(
      'UpdateAgentRuntime',
      (abortSignal) =>
        this.control.send(
          new UpdateAgentRuntimeCommand({
            agentRuntimeId: runtimeId,
            agentRuntimeArtifact: artifact,
            roleArn: this.opts.roleArn,
            networkConfiguration: { networkMode: 'PUBLIC' },
            protocolConfiguration: { serverProtocol: 'HTTP' },
            requestHeaderConfiguration: { requestHeaderAllowlist: Object.values(FORWARDED_HEADERS) },
            environmentVariables: env,
            ...(clientToken ? { clientToken } : {}),
          }),
          { abortSignal },
        ),
      secretValues,
    );
    return out.agentRuntimeVersion!;
  }

  /** The agent's runtime with its latest version, or null; a cached id that is gone is looked up again. */
  private async findRuntime(agentId: string): Promise<{ ref: RuntimeRef; latest: RuntimeVersion | null } | null> {
    const cached = this.runtimes.get(agentId);
    if (cached) {
      const latest = await this.getVersion(cached.id).catch((err: unknown) => {
        if (isAws(err, 'ResourceNotFoundException')) return null;
        throw err;
      });
      if (latest && latest.status !== 'DELETING') return { ref: cached, latest };
      this.runtimes.delete(agentId);
    }
    const ref = await this.listRuntime(agentId);
    if (!ref) return null;
    this.runtimes.set(agentId, ref);
    return { ref, latest: null };
  }

  private async listRuntime(agentId: string): Promise<RuntimeRef | null> {
    const name = runtimeNameOf(agentId);
    let nextToken: string | undefined;
    for (let page = 0; page < 1000; page++) {
      const out = await this.call('ListAgentRuntimes', (abortSignal) =>
        this.control.send(new ListAgentRuntimesCommand({ maxResults: 100, ...(nextToken ? { nextToken } : {}) }), {
          abortSignal,
        }),
      );
      const hit = out.agentRuntimes?.find((r) => r.agentRuntimeName === name && r.status !== 'DELETING');
      if (hit) return { id: hit.agentRuntimeId!, arn: hit.agentRuntimeArn! };
      nextToken = out.nextToken;
      if (!nextToken) return null;
    }
    return null;
  }

  /** A version (the latest without `version`). */
  private getVersion(runtimeId: string, version?: string): Promise<RuntimeVersion> {
    return this.call('GetAgentRuntime', (abortSignal) =>
      this.control.send(
        new GetAgentRuntimeCommand({ agentRuntimeId: runtimeId, ...(version ? { agentRuntimeVersion: version } : {}) }),
        { abortSignal },
      ),
    );
  }

  private async waitVersion(runtimeId: string, version: string): Promise<void> {
    const deadline = Date.now() + this.readyTimeoutMs;
    for (;;) {
      const v = await this.getVersion(runtimeId, version).catch((err: unknown) => {
        if (isAws(err, 'ResourceNotFoundException')) {
          throw new ProviderError('permanent', `AgentCore: runtime version ${version} was deleted while starting`);
        }
        throw err;
      });
      if (v.status === 'READY') return;
      if (FAILED.has(v.status ?? '') || v.status === 'DELETING') {
        throw new ProviderError(
          'permanent',
          `AgentCore could not start the version (${v.status}): ${v.failureReason ?? 'no reason given'}`,
        );
      }
      if (Date.now() > deadline) {
        throw new ProviderError(
          'retryable',
          `AgentCore: runtime version ${version} is still ${v.status} after ${this.readyTimeoutMs / 1000} s`,
        );
      }
      await sleep(this.pollIntervalMs);
    }
  }

  // ---- endpoints ----

  private async getEndpoint(runtimeId: string, name: string): Promise<Endpoint | null> {
    try {
      return await this.call('GetAgentRuntimeEndpoint', (abortSignal) =>
        this.control.send(new GetAgentRuntimeEndpointCommand({ agentRuntimeId: runtimeId, endpointName: name }), {
          abortSignal,
        }),
      );
    } catch (err) {
      if (isAws(err, 'ResourceNotFoundException')) return null;
      throw err;
    }
  }

  private async endpoints(runtimeId: string) {
    const all = [];
    let nextToken: string | undefined;
    for (let page = 0; page < 100; page++) {
      const out = await this.call('ListAgentRuntimeEndpoints', (abortSignal) =>
        this.control.send(
          new ListAgentRuntimeEndpointsCommand({
            agentRuntimeId: runtimeId,
            maxResults: 100,
            ...(nextToken ? { nextToken } : {}),
          }),
          { abortSignal },
        ),
      );
      all.push(...(out.runtimeEndpoints ?? []));
      nextToken = out.nextToken;
      if (!nextToken) break;
    }
    return all;
  }

  private async endpointNames(runtimeId: string): Promise<string[]> {
    try {
      return (await this.endpoints(runtimeId)).map((e) => e.name!);
    } catch (err) {
      if (isAws(err, 'ResourceNotFoundException')) return [];
      throw err;
    }
  }

  /** Points endpoint `name` at `version` (creating it), and waits until it serves it. */
  private async pinEndpoint(runtimeId: string, name: string, version: string, clientToken?: string): Promise<void> {
    const current = await this.getEndpoint(runtimeId, name);
    if (!current) {
      try {
        await this.call('CreateAgentRuntimeEndpoint', (abortSignal) =>
          this.control.send(
            new CreateAgentRuntimeEndpointCommand({
              agentRuntimeId: runtimeId,
              name,
              agentRuntimeVersion: version,
              ...(clientToken ? { clientToken } : {}),
            }),
            { abortSignal },
          ),
        );
      } catch (err) {
        // Created meanwhile by another attempt: pin it below.
        if (!isAws(err, 'ConflictException')) throw err;
        return this.pinEndpoint(runtimeId, name, version);
      }
    } else if (current.targetVersion !== version) {
      await this.call('UpdateAgentRuntimeEndpoint', (abortSignal) =>
        this.control.send(
          new UpdateAgentRuntimeEndpointCommand({
            agentRuntimeId: runtimeId,
            endpointName: name,
            agentRuntimeVersion: version,
          }),
          { abortSignal },
        ),
      );
    }
    await this.waitEndpoint(runtimeId, name, version);
  }

  private async waitEndpoint(runtimeId: string, name: string, version: string): Promise<void> {
    const deadline = Date.now() + this.readyTimeoutMs;
    for (;;) {
      const e = await this.getEndpoint(runtimeId, name);
      if (!e) throw new ProviderError('retryable', `AgentCore: endpoint ${name} went away while it was being set`);
      if (e.status === 'READY' && e.liveVersion === version) return;
      if (e.status === 'READY' && e.targetVersion !== version) {
        throw new ProviderError('retryable', `AgentCore: endpoint ${name} was pinned to another version meanwhile`);
      }
      if (FAILED.has(e.status ?? '')) {
        throw new ProviderError(
          'permanent',
          `AgentCore could not point endpoint ${name} at version ${version}: ${e.failureReason ?? e.status}`,
        );
      }
      if (Date.now() > deadline) {
        throw new ProviderError(
          'retryable',
          `AgentCore: endpoint ${name} is still ${e.status} after ${this.readyTimeoutMs / 1000} s`,
        );
      }
      await sleep(this.pollIntervalMs);
    }
  }

  private async deleteEndpoint(runtimeId: string, name: string): Promise<void> {
    try {
      await this.call('DeleteAgentRuntimeEndpoint', (abortSignal) =>
        this.control.send(new DeleteAgentRuntimeEndpointCommand({ agentRuntimeId: runtimeId, endpointName: name }), {
          abortSignal,
        }),
      );
    } catch (err) {
      if (!isAws(err, 'ResourceNotFoundException')) throw err;
    }
  }

  private async deleteArtifacts(agentId: string): Promise<void> {
    const prefix = `${this.codePrefix}${runtimeNameOf(agentId)}/`;
    for (let page = 0; page < 100; page++) {
      const out = await this.call('ListObjectsV2', (abortSignal) =>
        this.s3.send(new ListObjectsV2Command({ Bucket: this.opts.codeBucket, Prefix: prefix, MaxKeys: 1000 }), {
          abortSignal,
        }),
      );
      const keys = (out.Contents ?? []).map((o) => o.Key!).filter(Boolean);
      if (keys.length === 0) return;
      for (const key of keys) {
        await this.call('DeleteObject', (abortSignal) =>
          this.s3.send(new DeleteObjectCommand({ Bucket: this.opts.codeBucket, Key: key }), { abortSignal }),
        );
      }
    }
  }

  // ---- calls and errors ----

  /**
   * One AWS call with a time limit; its failure becomes an `AgentCoreCallError` that keeps the
   * AWS error code. No secret value reaches the message.
   */
  private async call<T>(
    what: string,
    send: (abortSignal: AbortSignal) => Promise<T>,
    secretValues: string[] = [],
  ): Promise<T> {
    try {
      return await send(AbortSignal.timeout(this.callTimeoutMs));
    } catch (err) {
      throw this.mapped(what, err, secretValues);
    }
  }

  private mapped(what: string, err: unknown, secretValues: string[] = []): ProviderError {
    if (err instanceof ProviderError) return err;
    const name = (err as { name?: string } | null)?.name ?? 'Error';
    const status = (err as { $metadata?: { httpStatusCode?: number } } | null)?.$metadata?.httpStatusCode;
    const message = redact(`AgentCore ${what} failed: ${name}: ${messageOf(err)}`, secretValues);
    return new AgentCoreCallError(isRetryable(name, status) ? 'retryable' : 'permanent', message, name);
  }
}

/** A failed AWS call, with the AWS error code (`ThrottlingException`, `ResourceNotFoundException`…). */
export class AgentCoreCallError extends ProviderError {
  constructor(
    kind: ProviderErrorKind,
    message: string,
    readonly code: string,
  ) {
    super(kind, message);
  }
}

const RETRYABLE = new Set([
  'ThrottlingException',
  'ServiceQuotaExceededException',
  'InternalServerException',
  'RetryableConflictException',
  'ConflictException',
  'ServiceUnavailableException',
  'ServiceUnavailable',
  'SlowDown',
  'RequestTimeout',
  'RequestTimeoutException',
  'TimeoutError',
  'AbortError',
]);
const PERMANENT = new Set([
  'ValidationException',
  'AccessDeniedException',
  'UnauthorizedException',
  'ResourceNotFoundException',
  'ResourceLimitExceededException',
  'NoSuchBucket',
  'AccessDenied',
]);

function isRetryable(name: string, status: number | undefined): boolean {
  if (RETRYABLE.has(name)) return true;
  if (PERMANENT.has(name)) return false;
  if (status === undefined) return true; // no answer: network, DNS, a reset connection
  return status >= 500 || status === 408 || status === 429;
}

function isAws(err: unknown, code: string): boolean {
  return err instanceof AgentCoreCallError ? err.code === code : (err as { name?: string } | null)?.name === code;
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function redact(text: string, values: string[]): string {
  let out = text;
  for (const v of values) if (v.length > 0) out = out.split(v).join('[redacted]');
  return out;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** The agent's runtime name: AgentCore names are `[a-zA-Z][a-zA-Z0-9_]{0,47}`. */
export function runtimeNameOf(agentId: string): string {
  const name = `webhost_${agentId.replace(/[^a-zA-Z0-9_]/g, '_')}`;
  return NAME.test(name) ? name : `webhost_${sha256(agentId).slice(0, 40)}`;
}

/** The deployment's own endpoint: its id when that is a valid endpoint name (`dep_<hex>` is). */
export function endpointNameFor(deploymentId: string): string {
  if (NAME.test(deploymentId) && deploymentId !== LIVE_ENDPOINT && deploymentId !== DEFAULT_ENDPOINT) {
    return deploymentId;
  }
  return `d_${sha256(deploymentId).slice(0, 46)}`;
}

function versionRefOf(ref: RuntimeRef, endpointName: string): string {
  return `${ref.arn}#${endpointName}`;
}

function parseVersionRef(versionRef: string): { ref: RuntimeRef; endpointName: string } {
  const at = versionRef.lastIndexOf('#');
  const arn = versionRef.slice(0, at);
  const endpointName = versionRef.slice(at + 1);
  const id = arn.split('/').at(-1) ?? '';
  if (at < 0 || !arn.startsWith('arn:') || !id || !NAME.test(endpointName)) {
    throw new ProviderError('permanent', `not an AgentCore version reference: ${versionRef}`);
  }
  return { ref: { id, arn }, endpointName };
}

/** AgentCore session ids are 33–256 characters: a hash of the runtime and the platform's session id. */
export function runtimeSessionId(runtimeArn: string, sessionId: string): string {
  return `webhost-${sha256(`${runtimeArn}\n${sessionId}`)}`;
}

/** Client tokens are 33–256 characters of `[a-zA-Z0-9-]`. */
function idempotencyToken(...parts: string[]): string {
  return sha256(parts.join('\n'));
}

function environment(
  platform: Record<string, string>,
  vars: Record<string, string>,
  secrets: Record<string, string>,
): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(vars)) env[VAR_PREFIX + k] = v;
  Object.assign(env, secretEnv(secrets), platform);
  return env;
}

function secretEnv(secrets: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(secrets).map(([k, v]) => [SECRET_PREFIX + k, v]));
}

function secretsOf(env: Record<string, string> | undefined): Record<string, string> {
  return Object.fromEntries(
    Object.entries(env ?? {})
      .filter(([k]) => k.startsWith(SECRET_PREFIX))
      .map(([k, v]) => [k.slice(SECRET_PREFIX.length), v]),
  );
}

function withoutSecrets(env: Record<string, string> | undefined): Record<string, string> {
  return Object.fromEntries(Object.entries(env ?? {}).filter(([k]) => !k.startsWith(SECRET_PREFIX)));
}

function sameRecord(a: Record<string, string>, b: Record<string, string>): boolean {
  const ka = Object.keys(a);
  return ka.length === Object.keys(b).length && ka.every((k) => Object.hasOwn(b, k) && a[k] === b[k]);
}

function fixedResponse(status: number, contentType: string, body: Buffer): AgentResponse {
  return {
    status,
    contentType,
    text: () => Promise.resolve(body.toString('utf8')),
    body: (async function* () {
      if (body.length > 0) yield new Uint8Array(body);
    })(),
  };
}

/** What an agent's runtime runs before its first deploy, so secrets set before it have a home. */
const PLACEHOLDER_BUNDLE: WorkerBundle = {
  mainModule: 'placeholder.js',
  modules: {
    'placeholder.js': `export default {
  fetch() {
    return new Response(JSON.stringify({ error: { code: 'not_deployed', message: 'this agent has no deployment yet' } }), {
      status: 503,
      headers: { 'content-type': 'application/json' },
    });
  },
};
`,
  },
  durableObjectClasses: [],
};
