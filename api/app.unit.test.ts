import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API_MAX_BODY_BYTES, ErrorEnvelope } from '../lib/contracts/index.js';
import { listen, type Listening } from '../lib/http/serve.js';
import { openStore, type Store } from '../lib/store/index.js';
import { apiUnderTest } from '../test/helpers/api.js';
import { metricValue } from '../test/helpers/http.js';
import { fakeWorkflows } from '../test/helpers/workflows.js';

// What the api answers before any route runs, on a real HTTP server: oversized bodies and
// headers are refused in the error envelope, with a request id, and never read whole.

let store: Store;
let api: Awaited<ReturnType<typeof apiUnderTest>>;
let server: Listening;
let token: string;

beforeAll(async () => {
  store = await openStore({ kind: 'pglite', dataDir: undefined });
  api = await apiUnderTest(store, fakeWorkflows());
  server = await listen(api.app.fetch, 0);
  token = await api.token('alice');
});
afterAll(async () => {
  await server?.close();
  await api?.close();
  await store?.close();
});

/** Sends a raw request and reads what comes back, however the server ends it. */
function raw(request: string): Promise<{ status: number; headers: string; body: string }> {
  const port = Number(new URL(server.url).port);
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let received = '';
    socket.on('data', (d) => (received += d.toString()));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      const [head = '', ...rest] = received.split('\r\n\r\n');
      const status = Number(/^HTTP\/1\.1 (\d+)/.exec(head)?.[1] ?? 0);
      resolve({ status, headers: head, body: rest.join('\r\n\r\n') });
    });
    socket.once('connect', () => {
      socket.write(request);
      socket.end();
    });
    setTimeout(() => reject(new Error('no answer')), 10_000).unref();
  });
}

describe('api: refusals before any route', () => {
  it('refuses a body over the limit from its Content-Length, in the envelope, without reading it', async () => {
    // 200 MiB declared, none of it sent: the answer comes from the header alone
    const res = await raw(
      `POST /v1/agents HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${token}\r\ncontent-type: application/json\r\ncontent-length: ${200 * 1024 * 1024}\r\n\r\n`,
    );
    expect(res.status).toBe(413);
    const envelope = ErrorEnvelope.parse(JSON.parse(res.body));
    expect(envelope.error.code).toBe('payload_too_large');
    expect(res.headers.toLowerCase()).toContain(`x-request-id: ${envelope.error.requestId}`.toLowerCase());
  });

  it('refuses a chunked body once it passes the limit', async () => {
    // 1 MiB chunks, without a Content-Length, up to twice the limit, over a raw socket: the
    // server may answer and close while chunks are still being written (a fetch client would
    // then fail with EPIPE before reading the answer), so writing stops at the answer or at a
    // closed socket, and the answer is read whatever happened to the writes.
    const port = Number(new URL(server.url).port);
    const chunk = Buffer.alloc(1024 * 1024, 'a');
    const answer = await new Promise<string>((resolveAnswer, reject) => {
      const socket = connect(port, '127.0.0.1');
      let received = '';
      let closed = false;
      socket.on('data', (d) => (received += d.toString()));
      socket.on('error', () => undefined);
      socket.on('close', () => {
        closed = true;
        resolveAnswer(received);
      });
      const upload = async () => {
        socket.write(
          `POST /v1/agents HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${token}\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n`,
        );
        for (let sent = 0; sent < 2 * API_MAX_BODY_BYTES && !closed && received === ''; sent += chunk.length) {
          socket.write(`${chunk.length.toString(16)}\r\n`);
          socket.write(chunk);
          // every part of the chunk is written; past the socket's buffer, give it time to drain
          if (!socket.write('\r\n')) await new Promise((r) => setTimeout(r, 5));
        }
        if (!closed) socket.end('0\r\n\r\n');
      };
      socket.once('connect', () => void upload());
      setTimeout(() => reject(new Error('no answer')), 10_000).unref();
    });
    // The server stops reading at the limit and closes the connection: the client reads the 413
    // in the envelope, unless its own writes were still in flight and the close reset the
    // connection before the answer could be read. Either way nothing was created.
    if (answer !== '') {
      const [head = '', ...rest] = answer.split('\r\n\r\n');
      expect(head).toMatch(/^HTTP\/1\.1 413/);
      const body = rest.join('\r\n\r\n');
      // the envelope, possibly in chunked transfer encoding
      const json = body.slice(body.indexOf('{'), body.lastIndexOf('}') + 1);
      expect(ErrorEnvelope.parse(JSON.parse(json)).error.code).toBe('payload_too_large');
    }
    const agents = await api.call('GET', '/v1/agents', { token });
    expect(((await agents.json()) as { items: unknown[] }).items).toEqual([]);
    expect(API_MAX_BODY_BYTES).toBeLessThan(16 * 1024 * 1024);
  });

  it('answers headers over 16 KiB with 431 in the envelope and a request id', async () => {
    const res = await raw(`GET /v1/agents HTTP/1.1\r\nhost: x\r\nx-big: ${'b'.repeat(20 * 1024)}\r\n\r\n`);
    expect(res.status).toBe(431);
    const envelope = ErrorEnvelope.parse(JSON.parse(res.body));
    expect(envelope.error.code).toBe('headers_too_large');
    expect(envelope.error.requestId).toMatch(/^req_/);
    expect(res.headers.toLowerCase()).toContain(`x-request-id: ${envelope.error.requestId}`.toLowerCase());
  });

  it('answers a malformed request line in the envelope', async () => {
    const res = await raw('NOT-HTTP\r\n\r\n');
    expect(res.status).toBe(400);
    expect(ErrorEnvelope.parse(JSON.parse(res.body)).error.code).toBe('validation_failed');
  });
});

describe('api metrics', () => {
  it('counts requests by route pattern and status, and errors by code, at GET /metrics', async () => {
    const token = await api.token('metrics-user');
    for (let i = 0; i < 2; i++) expect((await api.call('GET', '/v1/account', { token })).status).toBe(200);
    expect((await api.call('GET', '/v1/agents/agt_nope', { token })).status).toBe(404);
    expect((await api.call('GET', '/v1/account', {})).status).toBe(401);
    const text = await (await api.app.request('/metrics')).text();
    expect(
      metricValue(text, 'webhost_http_requests_total', { route: '/v1/account', status: '200', service: 'api' }),
    ).toBeGreaterThanOrEqual(2);
    expect(
      metricValue(text, 'webhost_http_requests_total', { route: '/v1/agents/:agentId', status: '404' }),
    ).toBeGreaterThanOrEqual(1);
    expect(metricValue(text, 'webhost_http_errors_total', { code: 'unauthorized' })).toBeGreaterThanOrEqual(1);
    expect(
      metricValue(text, 'webhost_http_request_duration_seconds_count', { route: '/v1/account' }),
    ).toBeGreaterThanOrEqual(3);
    expect(text).not.toContain('agt_nope');
    expect(text).not.toContain('metrics-user');
  });
});
