// A fake of AWS Bedrock AgentCore Runtime (control plane + data plane) and of the S3 calls the
// provider makes, on one loopback HTTP server, speaking the wire formats the real AWS SDK
// clients speak: restJson1 for AgentCore (paths, methods and shapes from the SDK's own model;
// errors as `x-amzn-ErrorType` + JSON `message`) and S3's REST/XML, path-style. Point the SDK at
// it with AWS_ENDPOINT_URL_BEDROCK_AGENTCORE_CONTROL / _BEDROCK_AGENTCORE / _S3 (`env()`).
// It really runs every version's code: the zip uploaded to the fake S3, started with Node
// (runner.ts). SigV4 signatures are not verified; an Authorization header must be present.
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { createServer, request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CreateAgentRuntimeEndpointRequest$,
  CreateAgentRuntimeRequest$,
  UpdateAgentRuntimeEndpointRequest$,
  UpdateAgentRuntimeRequest$,
} from '@aws-sdk/client-bedrock-agentcore-control';
import { shapeErrors } from './model.js';
import { Runner, StartError } from './runner.js';

const ACCOUNT = '123456789012';
const NAME = /^[a-zA-Z][a-zA-Z0-9_]{0,47}$/;
const CODE_RUNTIMES = new Set(['PYTHON_3_10', 'PYTHON_3_11', 'PYTHON_3_12', 'PYTHON_3_13', 'PYTHON_3_14', 'NODE_22']);
const ROLE_ARN = /^arn:aws(-[^:]+)?:iam::([0-9]{12})?:role\/.+$/;
const ENV_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const CUSTOM_HEADER = /^x-amzn-bedrock-agentcore-runtime-custom-[a-z0-9_-]+$/i;

type Status = 'CREATING' | 'CREATE_FAILED' | 'UPDATING' | 'UPDATE_FAILED' | 'READY' | 'DELETING' | 'DELETE_FAILED';

interface Version {
  version: string;
  config: Record<string, unknown> & {
    agentRuntimeArtifact: {
      codeConfiguration?: { code: { s3: { bucket: string; prefix: string } }; entryPoint: string[] };
    };
    environmentVariables?: Record<string, string>;
    requestHeaderConfiguration?: { requestHeaderAllowlist?: string[] };
  };
  status: Status;
  failureReason?: string;
  createdAt: string;
  lastUpdatedAt: string;
}

interface Endpoint {
  name: string;
  id: string;
  targetVersion: string;
  liveVersion?: string;
  status: Status;
  description?: string;
  failureReason?: string;
  createdAt: string;
  lastUpdatedAt: string;
}

interface Runtime {
  id: string;
  name: string;
  arn: string;
  description?: string;
  versions: Map<string, Version>;
  next: number;
  endpoints: Map<string, Endpoint>;
  deleting: boolean;
}

export interface Fault {
  /** The operation to fail (`CreateAgentRuntime`, `InvokeAgentRuntime`, `PutObject`…); every one when absent. */
  operation?: string;
  status: number;
  type: string;
  message?: string;
}

export interface FakeAgentCoreOptions {
  region?: string;
  buckets?: string[];
  /** How many versions' servers run at once (the least recently used idle one stops first). */
  maxRunning?: number;
  /** How long a version's server may take to answer GET /ping. */
  startupMs?: number;
  /** How long an endpoint stays CREATING/UPDATING at least, so callers must wait for READY. */
  settleMs?: number;
}

export interface FakeAgentCore {
  url: string;
  endpoints: { control: string; data: string; s3: string };
  region: string;
  /** Environment for a client of the fake: endpoints, region, and dummy credentials. */
  env(): Record<string, string>;
  /** Fails the next `count` matching requests with the given AWS error. */
  failNext(count: number, fault: Fault): void;
  /** Every operation called, in order. */
  readonly calls: string[];
  runningCount(): number;
  /** A runtime's versions as AgentCore holds them (status and environment), for assertions. */
  runtime(name: string): {
    id: string;
    versions: { version: string; status: string; env: Record<string, string> }[];
    endpoints: Record<string, string | undefined>;
  } | null;
  objectKeys(bucket: string): string[];
  close(): Promise<void>;
}

class AwsError extends Error {
  constructor(
    readonly status: number,
    readonly type: string,
    message: string,
    readonly extra: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

/** AgentCore's timestamps are RFC 3339 date-times on the wire (the model's `timestampFormat`). */
const now = () => new Date().toISOString();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function startFakeAgentCore(opts: FakeAgentCoreOptions = {}): Promise<FakeAgentCore> {
  const region = opts.region ?? 'us-east-1';
  const settleMs = opts.settleMs ?? 50;
  const runner = new Runner(mkdtempSync(join(tmpdir(), 'wh-fake-agentcore-')), {
    maxRunning: opts.maxRunning ?? 8,
    startupMs: opts.startupMs ?? 15_000,
  });
  const buckets = new Map<string, Map<string, { body: Buffer; etag: string; at: Date; contentType: string }>>(
    (opts.buckets ?? ['webhost-code']).map((b) => [b, new Map()]),
  );
  const runtimes = new Map<string, Runtime>();
  const tokens = new Map<string, { fingerprint: string; status: number; body: unknown }>();
  const faults: (Fault & { left: number })[] = [];
  const calls: string[] = [];
  let closed = false;

  // ---- helpers ----

  const runtimeById = (id: string): Runtime => {
    const rt = runtimes.get(id);
    if (!rt) throw new AwsError(404, 'ResourceNotFoundException', `Agent runtime ${id} not found`);
    return rt;
  };
  const live = (rt: Runtime) => {
    if (rt.deleting) throw new AwsError(409, 'ConflictException', `Agent runtime ${rt.id} is being deleted`);
    return rt;
  };
  const latestOf = (rt: Runtime): Version => {
    const v = [...rt.versions.values()].at(-1);
    if (!v) throw new AwsError(404, 'ResourceNotFoundException', `Agent runtime ${rt.id} has no versions`);
    return v;
  };
  const versionOf = (rt: Runtime, version: string | null): Version => {
    if (version === null) return latestOf(rt);
    const v = rt.versions.get(version);
    if (!v)
      throw new AwsError(404, 'ResourceNotFoundException', `Version ${version} of agent runtime ${rt.id} not found`);
    return v;
  };
  const endpointArn = (rt: Runtime, name: string) => `${rt.arn}/runtime-endpoint/${name}`;

  const validate = (schema: unknown, body: Record<string, unknown>) => {
    const errors = shapeErrors(schema, body);
    if (errors.length) throw new AwsError(400, 'ValidationException', errors.join('; '), { reason: 'CannotParse' });
  };
  const invalid = (message: string) =>
    new AwsError(400, 'ValidationException', message, { reason: 'FieldValidationFailed' });

  /** Checks what AgentCore checks beyond the shape: names, enums, the role, the code in S3, headers. */
  const checkConfig = (body: Version['config']) => {
    const code = body.agentRuntimeArtifact.codeConfiguration as
      { code?: { s3?: { bucket: string; prefix: string } }; runtime: string; entryPoint: string[] } | undefined;
    if (!code) throw invalid('this fake runs code deployments only (codeConfiguration)');
    if (!CODE_RUNTIMES.has(code.runtime)) throw invalid(`codeConfiguration.runtime ${code.runtime} is not supported`);
    if (code.entryPoint.length < 1 || code.entryPoint.length > 2) throw invalid('entryPoint must have 1 or 2 items');
    const s3 = code.code?.s3;
    if (!s3) throw invalid('code.s3 is required');
    if (!buckets.get(s3.bucket)?.has(s3.prefix)) {
      throw invalid(`Unable to access the code at s3://${s3.bucket}/${s3.prefix}: the object does not exist`);
    }
    if (typeof body.roleArn !== 'string' || !ROLE_ARN.test(body.roleArn))
      throw invalid('roleArn is not an IAM role ARN');
    for (const [k, v] of Object.entries(body.environmentVariables ?? {})) {
      if (!ENV_NAME.test(k)) throw invalid(`environment variable name ${k} is invalid`);
      if (v.length > 5000) throw invalid(`environment variable ${k} is too long`);
    }
    const allow = body.requestHeaderConfiguration?.requestHeaderAllowlist ?? [];
    if (allow.length > 20) throw invalid('at most 20 headers may be allow-listed');
    for (const h of allow) {
      if (/^x-amz-/i.test(h) || (/^x-amzn-/i.test(h) && !CUSTOM_HEADER.test(h)))
        throw invalid(`header ${h} cannot be allow-listed`);
    }
  };

  /** A clientToken seen before with the same request answers the same; with another request it is a conflict. */
  const idempotent = (
    token: unknown,
    scope: string,
    body: unknown,
    run: () => { status: number; body: unknown },
  ): { status: number; body: unknown } => {
    if (typeof token !== 'string') return run();
    if (token.length < 33 || token.length > 256) throw invalid('clientToken must be 33 to 256 characters');
    const key = `${scope}\n${token}`;
    const fingerprint = createHash('sha256').update(JSON.stringify(body)).digest('hex');
    const seen = tokens.get(key);
    if (seen) {
      if (seen.fingerprint !== fingerprint) {
        throw new AwsError(409, 'ConflictException', 'The client token was already used with different parameters');
      }
      return seen;
    }
    const result = run();
    tokens.set(key, { fingerprint, ...result });
    return result;
  };

  const specOf = (rt: Runtime, v: Version) => {
    const code = v.config.agentRuntimeArtifact.codeConfiguration!;
    const object = buckets.get(code.code.s3.bucket)?.get(code.code.s3.prefix);
    if (!object) throw new StartError('the code artifact is gone from S3');
    return {
      key: `${rt.id}:${v.version}`,
      zip: object.body,
      entryPoint: code.entryPoint,
      env: v.config.environmentVariables ?? {},
    };
  };

  /** Starts a new version's code; READY once it answers GET /ping, else *_FAILED with the reason. */
  const launch = (rt: Runtime, v: Version) => {
    const failed: Status = v.status === 'CREATING' ? 'CREATE_FAILED' : 'UPDATE_FAILED';
    void (async () => {
      try {
        await sleep(settleMs);
        const handle = await runner.ensure(specOf(rt, v));
        handle.release();
        if (v.status === 'CREATING' || v.status === 'UPDATING') v.status = 'READY';
      } catch (err) {
        if (v.status === 'CREATING' || v.status === 'UPDATING') {
          v.status = failed;
          v.failureReason = `The runtime failed to start: ${err instanceof Error ? err.message : String(err)}`;
        }
      }
      v.lastUpdatedAt = now();
    })();
  };

  const newVersion = (rt: Runtime, config: Version['config']): Version => {
    const version = String(rt.next++);
    const v: Version = {
      version,
      config,
      status: version === '1' ? 'CREATING' : 'UPDATING',
      createdAt: now(),
      lastUpdatedAt: now(),
    };
    rt.versions.set(version, v);
    // DEFAULT follows the latest version.
    const d = rt.endpoints.get('DEFAULT');
    if (d) Object.assign(d, { targetVersion: version, status: 'UPDATING', lastUpdatedAt: now() });
    else
      rt.endpoints.set('DEFAULT', {
        name: 'DEFAULT',
        id: randomUUID(),
        targetVersion: version,
        status: 'CREATING',
        createdAt: now(),
        lastUpdatedAt: now(),
      });
    launch(rt, v);
    return v;
  };

  /** Endpoints move to READY (serving their target) once the target version is READY. */
  const settle = (rt: Runtime) => {
    for (const e of rt.endpoints.values()) {
      if (e.status !== 'CREATING' && e.status !== 'UPDATING') continue;
      const v = rt.versions.get(e.targetVersion);
      const failed: Status = e.status === 'CREATING' ? 'CREATE_FAILED' : 'UPDATE_FAILED';
      if (!v || v.status === 'CREATE_FAILED' || v.status === 'UPDATE_FAILED') {
        if (e.name === 'DEFAULT' && e.liveVersion) Object.assign(e, { targetVersion: e.liveVersion, status: 'READY' });
        else
          Object.assign(e, {
            status: failed,
            failureReason: `version ${e.targetVersion} is not available: ${v?.failureReason ?? 'deleted'}`,
          });
      } else if (v.status === 'READY' && Date.now() - Date.parse(e.lastUpdatedAt) >= settleMs) {
        Object.assign(e, { status: 'READY', liveVersion: e.targetVersion, lastUpdatedAt: now() });
      }
    }
  };

  const endpointView = (rt: Runtime, e: Endpoint) => ({
    name: e.name,
    id: e.id,
    agentRuntimeEndpointArn: endpointArn(rt, e.name),
    agentRuntimeArn: rt.arn,
    status: e.status,
    createdAt: e.createdAt,
    lastUpdatedAt: e.lastUpdatedAt,
    ...(e.liveVersion ? { liveVersion: e.liveVersion } : {}),
    targetVersion: e.targetVersion,
    ...(e.description ? { description: e.description } : {}),
    ...(e.failureReason ? { failureReason: e.failureReason } : {}),
  });

  const page = <T>(items: T[], query: URLSearchParams): { items: T[]; nextToken?: string } => {
    const max = Math.min(Number(query.get('maxResults') ?? 100) || 100, 100);
    const start = Number(query.get('nextToken') ?? 0) || 0;
    const slice = items.slice(start, start + max);
    return start + max < items.length ? { items: slice, nextToken: String(start + max) } : { items: slice };
  };

  // ---- control plane ----

  const controlPlane = (method: string, path: string, query: URLSearchParams, body: Record<string, unknown>) => {
    let m: RegExpMatchArray | null;
    if ((m = path.match(/^\/runtimes\/?$/))) {
      if (method === 'PUT') {
        return op('CreateAgentRuntime', () => {
          validate(CreateAgentRuntimeRequest$, body);
          const name = body.agentRuntimeName as string;
          if (!NAME.test(name)) throw invalid(`agentRuntimeName ${name} must match [a-zA-Z][a-zA-Z0-9_]{0,47}`);
          const { clientToken, ...request } = body;
          return idempotent(clientToken, 'CreateAgentRuntime', request, () => {
            if ([...runtimes.values()].some((r) => r.name === name)) {
              throw new AwsError(409, 'ConflictException', `An agent runtime named ${name} already exists`);
            }
            const config = request as Version['config'];
            checkConfig(config);
            const id = `${name}-${randomBytes(5).toString('hex')}`;
            const rt: Runtime = {
              id,
              name,
              arn: `arn:aws:bedrock-agentcore:${region}:${ACCOUNT}:runtime/${id}`,
              ...(typeof body.description === 'string' ? { description: body.description } : {}),
              versions: new Map(),
              next: 1,
              endpoints: new Map(),
              deleting: false,
            };
            runtimes.set(id, rt);
            const v = newVersion(rt, config);
            return {
              status: 202,
              body: {
                agentRuntimeArn: rt.arn,
                agentRuntimeId: rt.id,
                agentRuntimeVersion: v.version,
                createdAt: v.createdAt,
                status: v.status,
                workloadIdentityDetails: {
                  workloadIdentityArn: `arn:aws:bedrock-agentcore:${region}:${ACCOUNT}:workload-identity-directory/default/workload-identity/${name}`,
                },
              },
            };
          });
        });
      }
      if (method === 'POST') {
        return op('ListAgentRuntimes', () => {
          const all = [...runtimes.values()].map((rt) => {
            const v = latestOf(rt);
            return {
              agentRuntimeArn: rt.arn,
              agentRuntimeId: rt.id,
              agentRuntimeVersion: v.version,
              agentRuntimeName: rt.name,
              description: rt.description ?? '',
              lastUpdatedAt: v.lastUpdatedAt,
              status: rt.deleting ? 'DELETING' : v.status,
            };
          });
          const p = page(all, query);
          return { status: 200, body: { agentRuntimes: p.items, ...(p.nextToken ? { nextToken: p.nextToken } : {}) } };
        });
      }
    }
    if ((m = path.match(/^\/runtimes\/([^/]+)\/?$/))) {
      const id = decodeURIComponent(m[1]!);
      if (method === 'PUT') {
        return op('UpdateAgentRuntime', () => {
          validate(UpdateAgentRuntimeRequest$, body);
          const rt = live(runtimeById(id));
          const { clientToken, ...request } = body;
          return idempotent(clientToken, `UpdateAgentRuntime ${id}`, request, () => {
            const config = request as Version['config'];
            checkConfig(config);
            const v = newVersion(rt, config);
            return {
              status: 202,
              body: {
                agentRuntimeArn: rt.arn,
                agentRuntimeId: rt.id,
                agentRuntimeVersion: v.version,
                createdAt: v.createdAt,
                lastUpdatedAt: v.lastUpdatedAt,
                status: v.status,
                workloadIdentityDetails: {
                  workloadIdentityArn: `arn:aws:bedrock-agentcore:${region}:${ACCOUNT}:workload-identity-directory/default/workload-identity/${rt.name}`,
                },
              },
            };
          });
        });
      }
      if (method === 'GET') {
        return op('GetAgentRuntime', () => {
          const rt = runtimeById(id);
          const v = versionOf(rt, query.get('version'));
          return {
            status: 200,
            body: {
              agentRuntimeArn: rt.arn,
              agentRuntimeName: rt.name,
              agentRuntimeId: rt.id,
              agentRuntimeVersion: v.version,
              createdAt: v.createdAt,
              lastUpdatedAt: v.lastUpdatedAt,
              roleArn: v.config.roleArn,
              networkConfiguration: v.config.networkConfiguration ?? { networkMode: 'PUBLIC' },
              status: rt.deleting ? 'DELETING' : v.status,
              ...(v.failureReason ? { failureReason: v.failureReason } : {}),
              ...(typeof v.config.description === 'string' ? { description: v.config.description } : {}),
              agentRuntimeArtifact: v.config.agentRuntimeArtifact,
              protocolConfiguration: v.config.protocolConfiguration ?? { serverProtocol: 'HTTP' },
              environmentVariables: v.config.environmentVariables ?? {},
              ...(v.config.requestHeaderConfiguration
                ? { requestHeaderConfiguration: v.config.requestHeaderConfiguration }
                : {}),
              lifecycleConfiguration: v.config.lifecycleConfiguration ?? {
                idleRuntimeSessionTimeout: 900,
                maxLifetime: 28800,
              },
            },
          };
        });
      }
      if (method === 'DELETE') {
        return op('DeleteAgentRuntime', () => {
          const rt = runtimeById(id);
          const version = query.get('version');
          if (version !== null) {
            const v = versionOf(rt, version);
            settle(rt);
            const user = [...rt.endpoints.values()].find(
              (e) => e.name !== 'DEFAULT' && (e.targetVersion === v.version || e.liveVersion === v.version),
            );
            if (user)
              throw new AwsError(409, 'ConflictException', `Version ${version} is used by endpoint ${user.name}`);
            if (rt.versions.size === 1) {
              throw new AwsError(409, 'ConflictException', 'The only version of an agent runtime cannot be deleted');
            }
            rt.versions.delete(version);
            const d = rt.endpoints.get('DEFAULT');
            const latest = latestOf(rt).version;
            if (d && (d.targetVersion === version || d.liveVersion === version)) {
              Object.assign(d, { targetVersion: latest, liveVersion: latest, status: 'READY', lastUpdatedAt: now() });
            }
            void runner.stop(`${rt.id}:${version}`);
            return { status: 202, body: { status: 'DELETING', agentRuntimeId: rt.id, agentRuntimeVersion: version } };
          }
          if (!rt.deleting) {
            rt.deleting = true;
            void runner.stopMatching(`${rt.id}:`).then(async () => {
              await sleep(settleMs);
              runtimes.delete(rt.id);
            });
          }
          return { status: 202, body: { status: 'DELETING', agentRuntimeId: rt.id } };
        });
      }
    }
    if ((m = path.match(/^\/runtimes\/([^/]+)\/runtime-endpoints\/?$/))) {
      const id = decodeURIComponent(m[1]!);
      if (method === 'PUT') {
        return op('CreateAgentRuntimeEndpoint', () => {
          validate(CreateAgentRuntimeEndpointRequest$, body);
          const rt = live(runtimeById(id));
          const name = body.name as string;
          if (!NAME.test(name)) throw invalid(`endpoint name ${name} must match [a-zA-Z][a-zA-Z0-9_]{0,47}`);
          const { clientToken, ...request } = body;
          return idempotent(clientToken, `CreateAgentRuntimeEndpoint ${id}`, request, () => {
            if (rt.endpoints.has(name)) throw new AwsError(409, 'ConflictException', `Endpoint ${name} already exists`);
            const version = versionOf(rt, (body.agentRuntimeVersion as string | undefined) ?? null).version;
            const e: Endpoint = {
              name,
              id: randomUUID(),
              targetVersion: version,
              status: 'CREATING',
              ...(typeof body.description === 'string' ? { description: body.description } : {}),
              createdAt: now(),
              lastUpdatedAt: now(),
            };
            rt.endpoints.set(name, e);
            return {
              status: 202,
              body: {
                targetVersion: version,
                agentRuntimeEndpointArn: endpointArn(rt, name),
                agentRuntimeArn: rt.arn,
                agentRuntimeId: rt.id,
                endpointName: name,
                status: e.status,
                createdAt: e.createdAt,
              },
            };
          });
        });
      }
      if (method === 'POST') {
        return op('ListAgentRuntimeEndpoints', () => {
          const rt = runtimeById(id);
          settle(rt);
          const p = page(
            [...rt.endpoints.values()].map((e) => endpointView(rt, e)),
            query,
          );
          return {
            status: 200,
            body: { runtimeEndpoints: p.items, ...(p.nextToken ? { nextToken: p.nextToken } : {}) },
          };
        });
      }
    }
    if ((m = path.match(/^\/runtimes\/([^/]+)\/runtime-endpoints\/([^/]+)\/?$/))) {
      const id = decodeURIComponent(m[1]!);
      const name = decodeURIComponent(m[2]!);
      const endpoint = (rt: Runtime) => {
        settle(rt);
        const e = rt.endpoints.get(name);
        if (!e)
          throw new AwsError(404, 'ResourceNotFoundException', `Endpoint ${name} of agent runtime ${id} not found`);
        return e;
      };
      if (method === 'GET') {
        return op('GetAgentRuntimeEndpoint', () => {
          const rt = runtimeById(id);
          return { status: 200, body: endpointView(rt, endpoint(rt)) };
        });
      }
      if (method === 'PUT') {
        return op('UpdateAgentRuntimeEndpoint', () => {
          validate(UpdateAgentRuntimeEndpointRequest$, body);
          const rt = live(runtimeById(id));
          const e = endpoint(rt);
          if (name === 'DEFAULT')
            throw invalid('the DEFAULT endpoint follows the latest version and cannot be updated');
          if (e.status === 'CREATING' || e.status === 'UPDATING') {
            throw new AwsError(409, 'ConflictException', `Endpoint ${name} is ${e.status}`);
          }
          const version = versionOf(rt, (body.agentRuntimeVersion as string | undefined) ?? null).version;
          Object.assign(e, { targetVersion: version, status: 'UPDATING', lastUpdatedAt: now() });
          if (typeof body.description === 'string') e.description = body.description;
          delete e.failureReason;
          return { status: 202, body: { ...endpointView(rt, e), agentRuntimeEndpointArn: endpointArn(rt, name) } };
        });
      }
      if (method === 'DELETE') {
        return op('DeleteAgentRuntimeEndpoint', () => {
          const rt = runtimeById(id);
          endpoint(rt);
          if (name === 'DEFAULT') throw invalid('the DEFAULT endpoint cannot be deleted');
          rt.endpoints.delete(name);
          return { status: 202, body: { status: 'DELETING', agentRuntimeId: rt.id, endpointName: name } };
        });
      }
    }
    return op('Unknown', () => {
      throw new AwsError(404, 'UnknownOperationException', `${method} ${path} is not an operation of this fake`);
    });
  };

  let currentOp = 'Unknown';
  function op(name: string, run: () => { status: number; body: unknown }) {
    currentOp = name;
    calls.push(name);
    injectFault(name);
    return run();
  }
  function injectFault(name: string) {
    const f = faults.find((x) => x.left > 0 && (!x.operation || x.operation === name));
    if (!f) return;
    f.left--;
    throw new AwsError(f.status, f.type, f.message ?? `injected ${f.type}`);
  }

  // ---- data plane ----

  const invoke = async (req: IncomingMessage, res: ServerResponse, path: string, query: URLSearchParams) => {
    const m = path.match(/^\/runtimes\/([^/]+)\/invocations\/?$/);
    if (!m || req.method !== 'POST') throw new AwsError(404, 'UnknownOperationException', `${req.method} ${path}`);
    calls.push('InvokeAgentRuntime');
    injectFault('InvokeAgentRuntime');
    const target = decodeURIComponent(m[1]!);
    const rt = [...runtimes.values()].find((r) => r.arn === target || r.id === target);
    if (!rt || rt.deleting) throw new AwsError(404, 'ResourceNotFoundException', `Agent runtime ${target} not found`);
    settle(rt);
    const qualifier = query.get('qualifier') ?? 'DEFAULT';
    const e = rt.endpoints.get(qualifier);
    if (!e) throw new AwsError(404, 'ResourceNotFoundException', `Endpoint ${qualifier} not found`);
    const v = e.liveVersion ? rt.versions.get(e.liveVersion) : undefined;
    if (!v || v.status !== 'READY')
      throw new AwsError(404, 'ResourceNotFoundException', `Endpoint ${qualifier} serves no ready version`);
    const sessionHeader = 'x-amzn-bedrock-agentcore-runtime-session-id';
    const sessionId = req.headers[sessionHeader];
    if (typeof sessionId !== 'string' || sessionId.length < 33 || sessionId.length > 256) {
      throw invalid('runtimeSessionId must be 33 to 256 characters');
    }
    let handle: { url: string; release(): void };
    try {
      handle = await runner.ensure(specOf(rt, v));
    } catch (err) {
      throw new AwsError(
        424,
        'RuntimeClientError',
        `The runtime failed to start: ${err instanceof Error ? err.message : String(err)}`,
      );
    }
    const allow = new Set(
      (v.config.requestHeaderConfiguration?.requestHeaderAllowlist ?? []).map((h) => h.toLowerCase()),
    );
    const headers: Record<string, string> = { [sessionHeader]: sessionId };
    for (const [k, value] of Object.entries(req.headers)) {
      if (typeof value !== 'string') continue;
      if (k === 'content-type' || k === 'accept' || allow.has(k)) headers[k] = value;
    }
    await new Promise<void>((done) => {
      const upstream = httpRequest(`${handle.url}/invocations`, { method: 'POST', headers });
      const finish = () => {
        handle.release();
        done();
      };
      res.on('close', () => {
        if (!res.writableFinished) upstream.destroy();
      });
      upstream.on('response', (up) => {
        const status = up.statusCode ?? 500;
        if (status < 200 || status > 299) {
          up.resume();
          writeAwsError(
            res,
            new AwsError(
              424,
              'RuntimeClientError',
              `Received error (${status}) from runtime. Please check your CloudWatch logs for more information.`,
            ),
          );
          finish();
          return;
        }
        res.writeHead(200, {
          'content-type': up.headers['content-type'] ?? 'application/octet-stream',
          [sessionHeader]: sessionId,
          'x-amzn-requestid': randomUUID(),
        });
        res.flushHeaders();
        up.pipe(res);
        up.on('end', finish);
        up.on('error', () => {
          res.destroy();
          finish();
        });
      });
      upstream.on('error', (err) => {
        if (!res.headersSent) {
          writeAwsError(
            res,
            new AwsError(424, 'RuntimeClientError', `The runtime failed to process the request: ${err.message}`),
          );
        } else res.destroy();
        finish();
      });
      req.pipe(upstream);
    });
  };

  // ---- S3 ----

  const s3 = async (req: IncomingMessage, res: ServerResponse, path: string, query: URLSearchParams) => {
    const [, bucketName = '', ...rest] = path.split('/');
    const key = rest.map(decodeURIComponent).join('/');
    const opName =
      req.method === 'PUT'
        ? 'PutObject'
        : req.method === 'DELETE'
          ? 'DeleteObject'
          : key
            ? 'GetObject'
            : 'ListObjectsV2';
    calls.push(opName);
    const f = faults.find((x) => x.left > 0 && x.operation === opName);
    if (f) {
      f.left--;
      return writeS3Error(res, f.status, f.type, f.message ?? `injected ${f.type}`);
    }
    const bucket = buckets.get(bucketName);
    if (!bucket) return writeS3Error(res, 404, 'NoSuchBucket', 'The specified bucket does not exist');
    if (req.method === 'PUT' && key) {
      let body = await readBody(req, 64 * 1024 * 1024);
      if (
        /aws-chunked/.test(String(req.headers['content-encoding'] ?? '')) ||
        /^STREAMING-/.test(String(req.headers['x-amz-content-sha256'] ?? ''))
      ) {
        body = decodeAwsChunked(body);
      }
      const etag = `"${createHash('md5').update(body).digest('hex')}"`;
      bucket.set(key, {
        body,
        etag,
        at: new Date(),
        contentType: String(req.headers['content-type'] ?? 'binary/octet-stream'),
      });
      res.writeHead(200, { etag, 'x-amz-request-id': randomUUID() });
      return res.end();
    }
    if (req.method === 'GET' && key) {
      const o = bucket.get(key);
      if (!o) return writeS3Error(res, 404, 'NoSuchKey', 'The specified key does not exist.');
      res.writeHead(200, {
        'content-type': o.contentType,
        'content-length': o.body.length,
        etag: o.etag,
        'last-modified': o.at.toUTCString(),
      });
      return res.end(o.body);
    }
    if (req.method === 'DELETE' && key) {
      bucket.delete(key);
      res.writeHead(204);
      return res.end();
    }
    if (req.method === 'GET' && query.get('list-type') === '2') {
      const prefix = query.get('prefix') ?? '';
      const max = Math.min(Number(query.get('max-keys') ?? 1000) || 1000, 1000);
      const keys = [...bucket.keys()].filter((k) => k.startsWith(prefix)).sort();
      const shown = keys.slice(0, max);
      const contents = shown
        .map((k) => {
          const o = bucket.get(k)!;
          return `<Contents><Key>${xml(k)}</Key><LastModified>${o.at.toISOString()}</LastModified><ETag>${xml(o.etag)}</ETag><Size>${o.body.length}</Size><StorageClass>STANDARD</StorageClass></Contents>`;
        })
        .join('');
      res.writeHead(200, { 'content-type': 'application/xml' });
      return res.end(
        `<?xml version="1.0" encoding="UTF-8"?>\n<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>${xml(bucketName)}</Name><Prefix>${xml(prefix)}</Prefix><KeyCount>${shown.length}</KeyCount><MaxKeys>${max}</MaxKeys><IsTruncated>${keys.length > max}</IsTruncated>${contents}</ListBucketResult>`,
      );
    }
    return writeS3Error(res, 405, 'MethodNotAllowed', `${req.method} ${path} is not supported by this fake`);
  };

  // ---- server ----

  const server = createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', 'http://fake');
      const [, plane = ''] = url.pathname.split('/');
      const path = url.pathname.slice(plane.length + 1) || '/';
      const auth = req.headers.authorization ?? '';
      try {
        if (closed) throw new AwsError(503, 'ServiceUnavailableException', 'the fake is closing');
        if (plane === 's3') {
          if (!auth.startsWith('AWS4-HMAC-SHA256 Credential='))
            return writeS3Error(res, 403, 'AccessDenied', 'Access Denied');
          return await s3(req, res, path, url.searchParams);
        }
        if (!auth.startsWith('AWS4-HMAC-SHA256 Credential=')) {
          throw new AwsError(
            403,
            'UnrecognizedClientException',
            'The security token included in the request is invalid',
          );
        }
        if (plane === 'data') return await invoke(req, res, path, url.searchParams);
        if (plane !== 'control') throw new AwsError(404, 'UnknownOperationException', `no service at /${plane}`);
        const raw = await readBody(req, 1024 * 1024);
        let body: Record<string, unknown> = {};
        if (raw.length > 0) {
          try {
            body = JSON.parse(raw.toString('utf8')) as Record<string, unknown>;
          } catch {
            throw new AwsError(400, 'ValidationException', 'the body is not JSON', { reason: 'CannotParse' });
          }
        }
        const result = controlPlane(req.method ?? 'GET', path, url.searchParams, body);
        res.writeHead(result.status, { 'content-type': 'application/json', 'x-amzn-requestid': randomUUID() });
        res.end(JSON.stringify(result.body));
      } catch (err) {
        if (res.headersSent) return void res.destroy();
        if (err instanceof AwsError) return writeAwsError(res, err);
        writeAwsError(
          res,
          new AwsError(500, 'InternalServerException', `fake failure in ${currentOp}: ${(err as Error).message}`),
        );
      }
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const base = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  const endpoints = { control: `${base}/control`, data: `${base}/data`, s3: `${base}/s3` };

  return {
    url: base,
    endpoints,
    region,
    calls,
    env: () => ({
      AWS_REGION: region,
      AWS_ACCESS_KEY_ID: 'AKIDFAKEAGENTCORE',
      AWS_SECRET_ACCESS_KEY: 'fake-secret-access-key',
      AWS_ENDPOINT_URL_BEDROCK_AGENTCORE_CONTROL: endpoints.control,
      AWS_ENDPOINT_URL_BEDROCK_AGENTCORE: endpoints.data,
      AWS_ENDPOINT_URL_S3: endpoints.s3,
    }),
    failNext: (count, fault) => void faults.push({ ...fault, left: count }),
    runningCount: () => runner.count,
    runtime: (name) => {
      const rt = [...runtimes.values()].find((r) => r.name === name);
      if (!rt) return null;
      settle(rt);
      return {
        id: rt.id,
        versions: [...rt.versions.values()].map((v) => ({
          version: v.version,
          status: v.status,
          env: { ...(v.config.environmentVariables ?? {}) },
        })),
        endpoints: Object.fromEntries([...rt.endpoints.values()].map((e) => [e.name, e.liveVersion])),
      };
    },
    objectKeys: (bucket) => [...(buckets.get(bucket)?.keys() ?? [])],
    close: async () => {
      closed = true;
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await runner.close();
    },
  };
}

function writeAwsError(res: ServerResponse, err: AwsError) {
  res.writeHead(err.status, {
    'content-type': 'application/json',
    'x-amzn-errortype': err.type,
    'x-amzn-requestid': randomUUID(),
  });
  res.end(JSON.stringify({ message: err.message, ...err.extra }));
}

function writeS3Error(res: ServerResponse, status: number, code: string, message: string) {
  res.writeHead(status, { 'content-type': 'application/xml', 'x-amz-request-id': randomUUID() });
  res.end(
    `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${xml(code)}</Code><Message>${xml(message)}</Message><RequestId>${randomUUID()}</RequestId></Error>`,
  );
}

function xml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

async function readBody(req: IncomingMessage, max: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > max) throw new AwsError(413, 'ValidationException', 'request body too large', { reason: 'CannotParse' });
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

/** The body of an `aws-chunked` upload: `<hex size>[;ext]\r\n<data>\r\n` … `0\r\n<trailers>\r\n`. */
function decodeAwsChunked(body: Buffer): Buffer {
  const out: Buffer[] = [];
  let at = 0;
  for (;;) {
    const eol = body.indexOf('\r\n', at);
    if (eol < 0) break;
    const size = parseInt(body.toString('latin1', at, eol).split(';')[0]!, 16);
    if (!Number.isFinite(size) || size === 0) break;
    out.push(body.subarray(eol + 2, eol + 2 + size));
    at = eol + 2 + size + 2;
  }
  return Buffer.concat(out);
}
