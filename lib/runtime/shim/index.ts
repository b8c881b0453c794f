// The shim: a thin module the platform wraps around every agent at build time
// (architecture.md, Runtimes). It runs inside the agent's isolate, in front of the agent's
// own `fetch`, so it holds on every runtime.
import { LOG_MESSAGE_MAX, LogLevel } from '../../contracts/logs.js';
import {
  TELEMETRY_DEPLOYMENT_HEADER,
  TELEMETRY_SIGNATURE_HEADER,
  TELEMETRY_TIMESTAMP_HEADER,
} from '../../contracts/telemetry.js';

/** The header that carries the per-deployment invoke token from the gateway (and health checks). */
export const INVOKE_TOKEN_HEADER = 'x-webhost-invoke-token';
/** The secret binding that gives the shim the token it expects; the agent's own `env` never has it. */
export const INVOKE_TOKEN_BINDING = 'WEBHOST_INVOKE_TOKEN';
/** The module specifier by which the shim imports the agent's entry. */
export const AGENT_MODULE = 'webhost:agent';

/** The secret binding with the deployment's telemetry key (hex; lib/auth/platform-keys.ts `telemetryKeys`). */
export const TELEMETRY_KEY_BINDING = 'WEBHOST_TELEMETRY_KEY';
/** A plain binding, JSON {@link TelemetryTarget}: whom the shim reports for, and where to when no service binding is given. */
export const TELEMETRY_BINDING = 'WEBHOST_TELEMETRY';
/** A service binding to the api's `POST /v1/telemetry` (the local runtime: agents cannot reach loopback). */
export const TELEMETRY_SERVICE_BINDING = 'WEBHOST_TELEMETRY_SERVICE';
/** Bindings the platform sets for the shim; the agent's own `env` never has them, and an agent's own cannot shadow them. */
export const PLATFORM_BINDINGS = [
  INVOKE_TOKEN_BINDING,
  TELEMETRY_KEY_BINDING,
  TELEMETRY_BINDING,
  TELEMETRY_SERVICE_BINDING,
] as const;
/** The platform's bindings that are secrets (the rest are plain text or services). */
export const PLATFORM_SECRET_BINDINGS = [INVOKE_TOKEN_BINDING, TELEMETRY_KEY_BINDING] as const;

/** What {@link TELEMETRY_BINDING} holds. */
export interface TelemetryTarget {
  deploymentId: string;
  agentId: string;
  /** The api's `POST /v1/telemetry` URL; unused when the runtime gives a service binding. */
  url?: string;
}

/**
 * The platform bindings that switch the shim's telemetry on for a deployment: its key and
 * target. Without a transport (a service binding, or a `url`) the shim records nothing.
 */
export function telemetryBindings(input: {
  deploymentId: string;
  agentId: string;
  key: Buffer;
  url?: string;
}): Record<string, string> {
  const target: TelemetryTarget = {
    deploymentId: input.deploymentId,
    agentId: input.agentId,
    ...(input.url ? { url: input.url } : {}),
  };
  return { [TELEMETRY_KEY_BINDING]: input.key.toString('hex'), [TELEMETRY_BINDING]: JSON.stringify(target) };
}

/** The gateway's request id, as every provider sends it to the agent. */
export const REQUEST_ID_HEADER = 'x-request-id';

/** The header with the caller's session id, as the gateway sends it to the agent. */
export const SESSION_ID_HEADER = 'x-webhost-session-id';

/** Log lines a shim keeps per isolate while its posts are slow or failing; more are dropped and counted. */
export const SHIM_LOG_BUFFER_MAX = 1000;
/** Log lines per signed post, at most. */
export const SHIM_LOG_BATCH_MAX = 200;
/** Bytes of log lines per signed post, at most (with `SHIM_BATCH_MAX` events, well under `TELEMETRY_MAX_BODY_BYTES`). */
export const SHIM_LOG_BATCH_BYTES = 128 * 1024;

/** Events a shim keeps per isolate while its posts are slow or failing; more are dropped, never blocking the agent. */
export const SHIM_BUFFER_MAX = 1000;
/** Events per signed post (well under `TELEMETRY_BATCH_MAX` and `TELEMETRY_MAX_BODY_BYTES`). */
export const SHIM_BATCH_MAX = 200;
/** Tries per batch (then it is dropped), each bounded by a timeout, with a short pause between. */
const POST_ATTEMPTS = 3;
const POST_TIMEOUT_MS = 10_000;
const RETRY_PAUSE_MS = 500;
/** A post in flight this long belongs to a request context that ended under it; another takes over. */
const POSTING_STUCK_MS = 60_000;
/**
 * How long events wait to be posted together: at most one post a second per isolate, however
 * busy the agent (sooner when a batch is full), so telemetry never costs a request per request.
 */
export const SHIM_FLUSH_DELAY_MS = 1000;

/**
 * The shim's source. It:
 * - refuses every call that lacks the deployment's invoke token (401), so a version's own
 *   address is useless to anyone but the gateway;
 * - hands the agent its request without the token header and its `env` without the
 *   platform's bindings (token, telemetry key and target);
 * - answers an exception the agent throws with a 500 that carries the message only, never a
 *   stack or a path of the host;
 * - when the runtime gave it a telemetry key and a way to the api, measures each call and the
 *   background work the agent hands to `ctx.waitUntil`, and posts signed batches of events
 *   (DESIGN.md §5) with `ctx.waitUntil`, never delaying the answer.
 *
 * What is measured: wall time, since that is what an isolate can see. workerd advances
 * `Date.now()` only at I/O (a Spectre mitigation), so a call's `computeMs` is the time from
 * the call reaching the agent to its answer (to the end of its stream for an SSE answer), as
 * of the last I/O; pure CPU work between two I/O events is not seen. Background work is timed
 * from `waitUntil` to the promise settling; its tokens are read from a `usage` field of what
 * the promise resolves to (the AI SDK's `generateText` result has one). Failures: an
 * invocation that threw, answered 5xx or broke off its stream is `ok: false`; a background
 * promise that rejected is `ok: false` (it counts as an error; an invocation's errors are the
 * gateway's to count). The calls between two posts are summed into one `invocation` event
 * (its `ok` false if any failed): a row a second per isolate, not a row per call. Event ids are
 * `inv:<nonce>` and `bg:<nonce>:<request id>`, fixed when the event is made, so a batch posted
 * again after a lost answer counts once. `GET /ping` (health
 * checks) is not measured. Posting: at most one post a second per isolate (sooner when a batch is full), one at a time, batches of
 * `SHIM_BATCH_MAX`, at most `SHIM_BUFFER_MAX` events waiting (more are dropped), each batch
 * tried `POST_ATTEMPTS` times with a timeout, then dropped; nothing of it throws into the agent.
 * The agent's named exports (Durable Object classes) pass through unchanged; only the default
 * export's `fetch` is measured.
 *
 * Logs: `console.debug/info/log/warn/error` are wrapped (the original is still called, so the
 * runtime's own log sees every line). While telemetry is on, each line is kept with its level,
 * time, and the request id and session id of the call that wrote it — known through
 * `AsyncLocalStorage` (`nodejs_compat`), since one isolate runs calls concurrently; a line
 * written outside any call has neither. Arguments are joined as `console` would roughly show
 * them (errors as their stack, objects as JSON) and cut to `LOG_MESSAGE_MAX`. Line ids are
 * `log:<isolate nonce>:<counter>`. At most `SHIM_LOG_BUFFER_MAX` lines wait; more are
 * dropped and counted, and the count goes with the next batch that has lines (`droppedLogs`),
 * as do the lines of a batch that could not be posted. They travel in the same signed posts as
 * the events, at most `SHIM_LOG_BATCH_MAX` lines and `SHIM_LOG_BATCH_BYTES` a post.
 */
export const SHIM_SOURCE = `
import { AsyncLocalStorage } from 'node:async_hooks';
import agent from ${JSON.stringify(AGENT_MODULE)};
export * from ${JSON.stringify(AGENT_MODULE)};

const TOKEN_HEADER = ${JSON.stringify(INVOKE_TOKEN_HEADER)};
const TOKEN_BINDING = ${JSON.stringify(INVOKE_TOKEN_BINDING)};
const TELEMETRY_KEY_BINDING = ${JSON.stringify(TELEMETRY_KEY_BINDING)};
const TELEMETRY_BINDING = ${JSON.stringify(TELEMETRY_BINDING)};
const TELEMETRY_SERVICE_BINDING = ${JSON.stringify(TELEMETRY_SERVICE_BINDING)};
const PLATFORM_BINDINGS = new Set(${JSON.stringify(PLATFORM_BINDINGS)});
const REQUEST_ID_HEADER = ${JSON.stringify(REQUEST_ID_HEADER)};
const DEPLOYMENT_HEADER = ${JSON.stringify(TELEMETRY_DEPLOYMENT_HEADER)};
const TIMESTAMP_HEADER = ${JSON.stringify(TELEMETRY_TIMESTAMP_HEADER)};
const SIGNATURE_HEADER = ${JSON.stringify(TELEMETRY_SIGNATURE_HEADER)};
const BUFFER_MAX = ${SHIM_BUFFER_MAX};
const BATCH_MAX = ${SHIM_BATCH_MAX};
const FLUSH_DELAY_MS = ${SHIM_FLUSH_DELAY_MS};
const POST_ATTEMPTS = ${POST_ATTEMPTS};
const POST_TIMEOUT_MS = ${POST_TIMEOUT_MS};
const RETRY_PAUSE_MS = ${RETRY_PAUSE_MS};
const POSTING_STUCK_MS = ${POSTING_STUCK_MS};
const MAX_COMPUTE_MS = 24 * 3600 * 1000;
const SESSION_ID_HEADER = ${JSON.stringify(SESSION_ID_HEADER)};
const LOG_LEVELS = ${JSON.stringify(LogLevel.options)};
const LOG_MESSAGE_MAX = ${LOG_MESSAGE_MAX};
const LOG_BUFFER_MAX = ${SHIM_LOG_BUFFER_MAX};
const LOG_BATCH_MAX = ${SHIM_LOG_BATCH_MAX};
const LOG_BATCH_BYTES = ${SHIM_LOG_BATCH_BYTES};

if (agent === null || typeof agent !== 'object' || typeof agent.fetch !== 'function') {
  throw new Error('the default export must be an object with a fetch(request, env, ctx) method');
}

function sameText(given, expected) {
  if (typeof given !== 'string' || given.length !== expected.length) return false;
  let diff = 0;
  for (let i = 0; i < expected.length; i++) diff |= given.charCodeAt(i) ^ expected.charCodeAt(i);
  return diff === 0;
}

function refuse(status, code, message) {
  return new Response(JSON.stringify({ error: { code, message } }), {
    status,
    headers: { 'content-type': 'application/json' },
  });
}

// ---- telemetry: per isolate, plain data only (no I/O object outlives the request that made it)
const telemetry = { events: [], calls: null, dropped: 0, postingSince: null, scheduled: false, keyHex: null, key: null, targetText: null, target: null };

// ---- logs: console.* lines, with the call that wrote them (one isolate runs calls concurrently)
const calls = new AsyncLocalStorage();
const logs = { lines: [], bytes: 0, dropped: 0, nonce: null, counter: 0, on: false };
const encoder = new TextEncoder();

function describe(value) {
  if (typeof value === 'string') return value;
  if (value instanceof Error) return value.stack || value.name + ': ' + value.message;
  if (value === undefined || typeof value === 'function' || typeof value === 'symbol' || typeof value === 'bigint') return String(value);
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

function capture(level, args) {
  const call = calls.getStore();
  if (call ? !call.capture : !logs.on) return;
  if (logs.lines.length >= LOG_BUFFER_MAX) {
    logs.dropped++;
    return;
  }
  let message = '';
  for (let i = 0; i < args.length && message.length <= LOG_MESSAGE_MAX; i++) message += (i > 0 ? ' ' : '') + describe(args[i]);
  if (message.length > LOG_MESSAGE_MAX) message = message.slice(0, LOG_MESSAGE_MAX - 1) + '…';
  if (logs.nonce === null) logs.nonce = crypto.randomUUID().replaceAll('-', '');
  const line = { id: 'log:' + logs.nonce + ':' + ++logs.counter, at: new Date().toISOString(), level, message };
  if (call && call.requestId) line.requestId = call.requestId;
  if (call && call.sessionId) line.sessionId = call.sessionId;
  logs.lines.push({ line, size: encoder.encode(JSON.stringify(line)).length + 1 });
}

for (const level of LOG_LEVELS) {
  const original = console[level];
  if (typeof original !== 'function') continue;
  console[level] = function (...args) {
    try {
      capture(level, args);
    } catch {
      // never into the agent
    }
    return original.apply(console, args);
  };
}

/** The next batch's lines: at most LOG_BATCH_MAX and LOG_BATCH_BYTES (always at least one). */
function takeLines() {
  let n = 0;
  let bytes = 0;
  while (n < logs.lines.length && n < LOG_BATCH_MAX && (n === 0 || bytes + logs.lines[n].size <= LOG_BATCH_BYTES)) {
    bytes += logs.lines[n].size;
    n++;
  }
  return logs.lines.splice(0, n).map((l) => l.line);
}

function telemetryTarget(env) {
  const keyHex = env[TELEMETRY_KEY_BINDING];
  const text = env[TELEMETRY_BINDING];
  if (typeof keyHex !== 'string' || !/^[0-9a-f]{64}$/.test(keyHex) || typeof text !== 'string') return null;
  if (telemetry.targetText !== text) {
    telemetry.targetText = text;
    try {
      const t = JSON.parse(text);
      telemetry.target = typeof t.deploymentId === 'string' && typeof t.agentId === 'string' ? t : null;
    } catch {
      telemetry.target = null;
    }
  }
  const target = telemetry.target;
  if (target === null) return null;
  const service = env[TELEMETRY_SERVICE_BINDING];
  if (service && typeof service.fetch === 'function') {
    return { ...target, keyHex, url: 'https://api.webhost.internal/v1/telemetry', send: (url, init) => service.fetch(url, init) };
  }
  if (typeof target.url === 'string') return { ...target, keyHex, send: (url, init) => fetch(url, init) };
  return null;
}

function record(event) {
  if (telemetry.events.length >= BUFFER_MAX) telemetry.dropped++;
  else telemetry.events.push(event);
}

/**
 * A call's compute joins the isolate's open invocation event, which goes out with the next
 * post: one event per isolate per post, not one per call, so a busy agent's telemetry costs
 * the api and the store a row a second rather than a row a request.
 */
function recordCall(at, computeMs, ok) {
  const open = telemetry.calls;
  if (open) {
    open.computeMs = Math.min(open.computeMs + computeMs, MAX_COMPUTE_MS);
    open.ok = open.ok && ok;
    return;
  }
  telemetry.calls = { id: eventId('inv', ''), at, kind: 'invocation', ok, computeMs };
}

function eventId(kind, requestId) {
  return kind + ':' + crypto.randomUUID().replaceAll('-', '') + (requestId ? ':' + requestId : '');
}

function elapsed(started) {
  return Math.min(Math.max(0, Date.now() - started), MAX_COMPUTE_MS);
}

function tokens(n) {
  return Number.isFinite(n) && n > 0 ? Math.min(Math.floor(n), 1e9) : 0;
}

/** Tokens in what a background promise resolved to: a \`usage\` field, the AI SDK's shapes accepted. */
function usageOf(value) {
  const u = value !== null && typeof value === 'object' ? value.usage : undefined;
  if (u === null || typeof u !== 'object') return {};
  const input = tokens(u.inputTokens ?? u.promptTokens);
  const output = tokens(u.outputTokens ?? u.completionTokens);
  return input || output ? { inputTokens: input, outputTokens: output } : {};
}

async function hmacKey(hex) {
  if (telemetry.keyHex !== hex || telemetry.key === null) {
    const bytes = new Uint8Array(32);
    for (let i = 0; i < 32; i++) bytes[i] = parseInt(hex.slice(i * 2, i * 2 + 2), 16);
    telemetry.key = await crypto.subtle.importKey('raw', bytes, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
    telemetry.keyHex = hex;
  }
  return telemetry.key;
}

async function sign(hex, text) {
  const mac = new Uint8Array(await crypto.subtle.sign('HMAC', await hmacKey(hex), new TextEncoder().encode(text)));
  let out = '';
  for (const b of mac) out += b.toString(16).padStart(2, '0');
  return out;
}

/** One batch, signed anew each try (same event and line ids: a batch that arrived twice counts once); never throws. */
async function post(target, events, lines, droppedLogs) {
  const batch = { agentId: target.agentId, events };
  if (lines.length > 0) batch.logs = lines;
  if (droppedLogs > 0) batch.droppedLogs = droppedLogs;
  const body = JSON.stringify(batch);
  for (let attempt = 1; attempt <= POST_ATTEMPTS; attempt++) {
    try {
      const timestamp = String(Math.floor(Date.now() / 1000));
      const res = await target.send(target.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          [DEPLOYMENT_HEADER]: target.deploymentId,
          [TIMESTAMP_HEADER]: timestamp,
          [SIGNATURE_HEADER]: await sign(target.keyHex, timestamp + '.' + body),
        },
        body,
        signal: AbortSignal.timeout(POST_TIMEOUT_MS),
      });
      await res.arrayBuffer().catch(() => undefined);
      if (res.ok) return;
      // refused as it is: sending it again changes nothing
      if (res.status < 500 && res.status !== 408 && res.status !== 429) break;
    } catch {
      // no answer: try again
    }
    if (attempt < POST_ATTEMPTS) await new Promise((r) => setTimeout(r, RETRY_PAUSE_MS * attempt));
  }
  telemetry.dropped += events.length;
  logs.dropped += lines.length + droppedLogs;
}

/** Posts what is waiting, one post at a time per isolate; the post in flight picks up events added meanwhile. */
async function flush(target) {
  if (telemetry.postingSince !== null && Date.now() - telemetry.postingSince < POSTING_STUCK_MS) return;
  const mine = Date.now();
  telemetry.postingSince = mine;
  if (telemetry.calls) {
    record(telemetry.calls);
    telemetry.calls = null;
  }
  try {
    while ((telemetry.events.length > 0 || logs.lines.length > 0) && telemetry.postingSince === mine) {
      const lines = takeLines();
      // the count of dropped lines goes with a batch that has lines (the api takes it only so)
      const droppedLogs = lines.length > 0 ? logs.dropped : 0;
      logs.dropped -= droppedLogs;
      await post(target, telemetry.events.splice(0, BATCH_MAX), lines, droppedLogs);
    }
  } catch {
    // never into the agent
  } finally {
    if (telemetry.postingSince === mine) telemetry.postingSince = null;
  }
}

/**
 * Posts soon: at once when a batch is full, else once the events of the next
 * FLUSH_DELAY_MS have joined them. The request that schedules the post keeps it alive in its
 * waitUntil; the others only add events (a promise is never shared between request contexts).
 */
function flushSoon(target) {
  if (telemetry.events.length >= BATCH_MAX || logs.lines.length >= LOG_BATCH_MAX) return flush(target);
  if (telemetry.scheduled) return Promise.resolve();
  telemetry.scheduled = true;
  return new Promise((r) => setTimeout(r, FLUSH_DELAY_MS)).then(() => {
    telemetry.scheduled = false;
    return flush(target);
  });
}

/** The agent's ctx, with \`waitUntil\` measuring the work it is handed. */
function measuredContext(ctx, target, requestId) {
  const waitUntil = (work) => {
    const started = Date.now();
    const at = new Date(started).toISOString();
    const done = Promise.resolve(work).then(
      (value) => record({ id: eventId('bg', requestId), at, kind: 'background', ok: true, computeMs: elapsed(started), ...usageOf(value) }),
      (err) => {
        record({ id: eventId('bg', requestId), at, kind: 'background', ok: false, computeMs: elapsed(started) });
        console.error('background work failed:', err instanceof Error ? err.message : String(err));
      },
    );
    ctx.waitUntil(done.then(() => flushSoon(target)));
  };
  return new Proxy(ctx, {
    get(inner, name) {
      if (name === 'waitUntil') return waitUntil;
      const value = Reflect.get(inner, name);
      return typeof value === 'function' ? value.bind(inner) : value;
    },
  });
}

export default {
  async fetch(request, env, ctx) {
    const expected = env[TOKEN_BINDING];
    if (typeof expected !== 'string' || !sameText(request.headers.get(TOKEN_HEADER), expected)) {
      return refuse(401, 'unauthorized', 'this agent is reached through the webhost gateway only');
    }
    const headers = new Headers(request.headers);
    headers.delete(TOKEN_HEADER);
    const agentEnv = {};
    for (const [name, value] of Object.entries(env)) if (!PLATFORM_BINDINGS.has(name)) agentEnv[name] = value;

    const target = telemetryTarget(env);
    const measured = target !== null && !(request.method === 'GET' && new URL(request.url).pathname === '/ping');
    const requestId = measured ? (request.headers.get(REQUEST_ID_HEADER) ?? '').replace(/[^\\w=-]/g, '').slice(0, 64) : '';
    const sessionId = measured ? (request.headers.get(SESSION_ID_HEADER) ?? '').slice(0, 256) : '';
    if (target !== null) logs.on = true;
    const call = { capture: measured, requestId, sessionId };
    const started = Date.now();
    const at = new Date(started).toISOString();
    const finish = (ok) => {
      recordCall(at, elapsed(started), ok);
      return flushSoon(target);
    };
    let answer;
    try {
      const agentCtx = target ? measuredContext(ctx, target, requestId) : ctx;
      answer = await calls.run(call, () => agent.fetch(new Request(request, { headers }), agentEnv, agentCtx));
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      calls.run(call, () => console.error('the agent threw:', message));
      if (measured) ctx.waitUntil(finish(false));
      return refuse(500, 'agent_error', 'the agent threw: ' + message.slice(0, 1000));
    }
    if (!measured) return answer;
    if (!(answer instanceof Response)) {
      ctx.waitUntil(finish(false));
      return answer;
    }
    const streaming = answer.body !== null && (answer.headers.get('content-type') ?? '').includes('text/event-stream');
    if (streaming && !answer.webSocket) {
      // an SSE answer's work goes on while it streams: timed to its end
      const { readable, writable } = new TransformStream();
      ctx.waitUntil(answer.body.pipeTo(writable).then(() => true, () => false).then(finish));
      return new Response(readable, answer);
    }
    ctx.waitUntil(finish(answer.status < 500));
    return answer;
  },
};
`;
