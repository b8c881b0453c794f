import { randomBytes } from 'node:crypto';
import { defaultPayloadConverter } from '@temporalio/common';
import { Hono } from 'hono';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { ErrorEnvelope } from '../../lib/contracts/index.js';
import { onError } from '../../lib/http/errors.js';
import { withRequestId, type AuthedEnv } from '../../lib/http/middleware.js';
import { EncryptionCodec } from '../../lib/temporal/codec.js';
import type { CodecBody } from '../../lib/temporal/codec-server.js';
import { codecRoutes, type CodecServerDeps } from './codec.js';

// Temporal UI and `temporal --codec-endpoint` read sealed payloads through the api: clear to
// an operator, except a secret's value; closed to everyone else.

const key = randomBytes(32);
const codec = new EncryptionCodec(key);
const UI = 'http://127.0.0.1:8233';
const OPERATOR = 'op_token_123';

function app(access: CodecServerDeps['access']) {
  return new Hono<AuthedEnv>()
    .use('*', withRequestId())
    .onError(onError(pino({ level: 'silent' })))
    .route('/codec', codecRoutes({ codec, access, corsOrigins: [UI] }));
}

/** Values as the SDK seals them, in the protocol's proto3 JSON (every bytes field base64). */
async function sealed(...values: unknown[]): Promise<CodecBody> {
  const payloads = await codec.encode(values.map((v) => defaultPayloadConverter.toPayload(v)));
  return {
    payloads: payloads.map((p) => ({
      metadata: Object.fromEntries(
        Object.entries(p.metadata!).map(([k, v]) => [k, Buffer.from(v!).toString('base64')]),
      ),
      data: Buffer.from(p.data!).toString('base64'),
    })),
  };
}

const opened = (body: CodecBody) =>
  body.payloads.map((p) => ({
    encoding: Buffer.from(p.metadata!.encoding!, 'base64').toString(),
    value: JSON.parse(Buffer.from(p.data!, 'base64').toString()) as unknown,
  }));

const decode = (a: Hono<AuthedEnv>, body: unknown, headers: Record<string, string> = {}) =>
  a.request('/codec/decode', {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-namespace': 'default', origin: UI, ...headers },
    body: JSON.stringify(body),
  });

describe('the codec server', () => {
  it('opens sealed payloads, a deploy’s progress in clear and a secret’s value redacted', async () => {
    const progress = { step: 'health_check', attempt: 2 };
    const secretChange = { agentId: 'agt_1', name: 'API_KEY', version: 3, value: 'sk-canary-9f2c' };
    const res = await decode(app({ open: true }), await sealed(progress, secretChange));
    expect(res.status).toBe(200);
    expect(res.headers.get('access-control-allow-origin')).toBe(UI);
    const text = await res.clone().text();
    expect(text).not.toContain('sk-canary-9f2c');
    expect(text).not.toContain(Buffer.from('sk-canary-9f2c').toString('base64'));
    expect(opened((await res.json()) as CodecBody)).toEqual([
      { encoding: 'json/plain', value: progress },
      { encoding: 'json/plain', value: { ...secretChange, value: '[redacted]' } },
    ]);
  });

  it('seals what the CLI sends as the platform’s clients do', async () => {
    const plain = {
      payloads: [
        {
          metadata: { encoding: Buffer.from('json/plain').toString('base64') },
          data: Buffer.from('{"a":1}').toString('base64'),
        },
      ],
    };
    const res = await app({ open: true }).request('/codec/encode', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(plain),
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as CodecBody;
    expect(Buffer.from(body.payloads[0]!.metadata!.encoding!, 'base64').toString()).toBe('binary/encrypted');
    expect(Buffer.from(body.payloads[0]!.data!, 'base64').toString()).not.toContain('"a"');
    expect(opened((await (await decode(app({ open: true }), body)).json()) as CodecBody)).toEqual([
      { encoding: 'json/plain', value: { a: 1 } },
    ]);
  });

  it('answers Temporal UI’s preflight from its origin only', async () => {
    const preflight = (origin: string) =>
      app({ open: true }).request('/codec/decode', {
        method: 'OPTIONS',
        headers: {
          origin,
          'access-control-request-method': 'POST',
          'access-control-request-headers': 'content-type,x-namespace',
        },
      });
    expect((await preflight(UI)).headers.get('access-control-allow-origin')).toBe(UI);
    expect((await preflight('https://evil.example')).headers.get('access-control-allow-origin')).toBeNull();
  });

  it('needs the operator token when auth is not local', async () => {
    const closed = app({ open: false, operatorToken: OPERATOR });
    const body = await sealed({ step: 'build' });
    for (const auth of [undefined, 'Bearer wrong', `Bearer ${OPERATOR}x`]) {
      const res = await decode(closed, body, auth ? { authorization: auth } : {});
      expect(res.status).toBe(401);
      expect(ErrorEnvelope.parse(await res.json()).error.code).toBe('unauthorized');
    }
    const res = await decode(closed, body, { authorization: `Bearer ${OPERATOR}` });
    expect(res.status).toBe(200);
    expect(opened((await res.json()) as CodecBody)).toEqual([{ encoding: 'json/plain', value: { step: 'build' } }]);
    // a platform composed without an operator token opens to nobody
    expect(
      (await decode(app({ open: false, operatorToken: undefined }), body, { authorization: 'Bearer ' })).status,
    ).toBe(401);
  });

  it('refuses what it cannot decode in the error envelope', async () => {
    const other = new EncryptionCodec(randomBytes(32));
    const [foreign] = await other.encode([defaultPayloadConverter.toPayload('x')]);
    const cases: unknown[] = [
      { payloads: [{ data: 'not base64!' }] },
      { payloads: 'nope' },
      {
        payloads: [
          {
            metadata: Object.fromEntries(
              Object.entries(foreign!.metadata!).map(([k, v]) => [k, Buffer.from(v!).toString('base64')]),
            ),
            data: Buffer.from(foreign!.data!).toString('base64'),
          },
        ],
      },
    ];
    for (const body of cases) {
      const res = await decode(app({ open: true }), body);
      expect(res.status).toBe(400);
      const { error } = ErrorEnvelope.parse(await res.json());
      expect(error.code).toBe('validation_failed');
      expect(error.message).not.toMatch(/\/work\/|node_modules|\.ts:/);
    }
  });
});
