import { createHmac } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { AppError } from '../contracts/index.js';
import { webhookSecrets } from '../auth/platform-keys.js';
import { judgeAttempt, sendWebhook } from './send.js';
import { signWebhook, verifyWebhook, webhookHeaders, WebhookVerificationError } from './signing.js';
import { addressAllowed, checkWebhookUrl, guardedLookup } from './url.js';

const secret = webhookSecrets(Buffer.alloc(32, 7))('whe_1');
const body = '{"type":"deployment.live","id":"evt_1","createdAt":"2026-12-01T00:00:00.000Z","data":{}}';
const now = new Date('2026-12-01T00:00:00Z');

describe('webhook signing (Standard Webhooks)', () => {
  it('signs <id>.<timestamp>.<body> with the key the secret’s base64 stands for', () => {
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    expect(webhookSecrets(Buffer.alloc(32, 7))('whe_2')).not.toBe(secret);
    const key = Buffer.from(secret.slice('whsec_'.length), 'base64');
    const expected = createHmac('sha256', key).update(`msg_1.1764547200.${body}`).digest('base64');
    expect(signWebhook(secret, 'msg_1', 1764547200, body)).toBe(`v1,${expected}`);
    // the spec's own example (standard-webhooks/standard-webhooks, spec/standard-webhooks.md)
    expect(
      signWebhook(
        'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
        'msg_p5jXN8AQM9LWM0D4loKWxJek',
        1614265330,
        '{"test": 2432232314}',
      ),
    ).toBe('v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=');
  });

  it('verifies a delivery, and refuses a forged, altered, stale or unsigned one', () => {
    const headers = webhookHeaders({ secret, id: 'whd_1', body, now });
    expect(verifyWebhook(secret, headers, body, { now })).toMatchObject({ type: 'deployment.live' });
    // any of several signatures (a rotated secret) will do
    const rotated = { ...headers, 'webhook-signature': `v1,bm90IGl0 ${headers['webhook-signature']}` };
    expect(verifyWebhook(secret, new Headers(rotated), body, { now })).toBeTruthy();

    const refused =
      (h: Record<string, string>, b = body, at = now) =>
      () =>
        verifyWebhook(secret, h, b, { now: at });
    expect(refused(headers, body.replace('live', 'lived'))).toThrow(WebhookVerificationError);
    expect(refused({ ...headers, 'webhook-id': 'whd_2' })).toThrow(/no signature matches/);
    expect(refused(headers, body, new Date(now.getTime() + 301_000))).toThrow(/tolerance/);
    expect(refused(headers, body, new Date(now.getTime() - 301_000))).toThrow(/tolerance/);
    expect(refused({ ...headers, 'webhook-signature': 'v2,abc' })).toThrow(/no signature matches/);
    expect(refused({ 'webhook-id': 'whd_1' })).toThrow(/missing/);
    const other = webhookSecrets(Buffer.alloc(32, 8))('whe_1');
    expect(() => verifyWebhook(other, headers, body, { now })).toThrow(/no signature matches/);
  });
});

describe('where webhooks may go', () => {
  const prod = { allowLoopback: false };
  const local = { allowLoopback: true };
  const refusal = (url: string, policy = prod) => {
    try {
      checkWebhookUrl(url, policy);
      return null;
    } catch (err) {
      expect(err).toBeInstanceOf(AppError);
      return (err as AppError).message;
    }
  };

  it('takes public https URLs, and http or https to loopback only when loopback is allowed', () => {
    expect(refusal('https://hooks.example.com/x?y=1')).toBeNull();
    expect(refusal('https://93.184.216.34/in')).toBeNull();
    expect(refusal('http://hooks.example.com/in')).toBe('url: must be https');
    expect(refusal('http://hooks.example.com/in', local)).toBe('url: must be https');
    expect(refusal('http://127.0.0.1:4000/in', local)).toBeNull();
    expect(refusal('http://localhost:4000/in', local)).toBeNull();
    expect(refusal('http://[::1]:4000/in', local)).toBeNull();
    expect(refusal('ftp://hooks.example.com')).toBe('url: must be https');
    expect(refusal('not a url')).toBe('url: must be an absolute URL');
    expect(refusal('https://user:pw@hooks.example.com')).toBe('url: must not hold credentials');
  });

  it('refuses loopback, private, link-local and reserved addresses (SSRF), even written in other ways', () => {
    for (const url of [
      'https://127.0.0.1/',
      'https://localhost/',
      'https://api.localhost/',
      'http://127.0.0.1:8233/',
      'https://10.1.2.3/',
      'https://172.16.0.1/',
      'https://192.168.1.1/',
      'https://169.254.169.254/latest/meta-data',
      'https://100.64.0.1/',
      'https://0.0.0.0/',
      'https://[::1]/',
      'https://[fd00::1]/',
      'https://[fe80::1]/',
      'https://[::ffff:10.0.0.1]/',
      'https://[::ffff:127.0.0.1]/',
      'https://2130706433/', // 127.0.0.1 as a number: the URL parser normalises it
      'https://0x7f.1/',
    ])
      expect(refusal(url), url).toMatch(/must not point at a private or loopback address|must be https/);
    // loopback being allowed opens loopback only
    expect(refusal('https://10.1.2.3/', local)).toMatch(/private/);
    expect(refusal('https://169.254.169.254/', local)).toMatch(/private/);
    expect(addressAllowed('8.8.8.8', prod)).toBe(true);
    expect(addressAllowed('2606:4700::1111', prod)).toBe(true);
    expect(addressAllowed('127.0.0.1', local)).toBe(true);
    expect(addressAllowed('::ffff:192.168.0.1', local)).toBe(false);
  });
});

describe('sending one attempt', () => {
  it('judges answers the way Stripe, GitHub and Svix do', () => {
    const answered = (status: number) => judgeAttempt({ kind: 'answered', status, snippet: '' });
    expect([200, 201, 204, 299].map(answered)).toEqual(['succeeded', 'succeeded', 'succeeded', 'succeeded']);
    expect([408, 429, 500, 502, 503].map(answered)).toEqual(['retry', 'retry', 'retry', 'retry', 'retry']);
    expect([301, 400, 401, 404, 410, 422].map(answered)).toEqual([
      'permanent',
      'permanent',
      'permanent',
      'permanent',
      'permanent',
      'permanent',
    ]);
    expect(judgeAttempt({ kind: 'no_answer', error: 'timed out' })).toBe('retry');
  });

  it('keeps only the start of an answer, follows no redirect, times out, and never connects where it may not', async () => {
    const server = createServer((req, res) => {
      if (req.url === '/big') return res.writeHead(500).end('x'.repeat(1_000_000));
      if (req.url === '/redirect') return res.writeHead(302, { location: '/big' }).end();
      if (req.url === '/slow') return setTimeout(() => res.writeHead(200).end(), 2000);
      res.writeHead(204).end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const send = (path: string, policy = { allowLoopback: true }, timeoutMs = 5000) =>
      sendWebhook({ url: `${base}${path}`, headers: { 'content-type': 'application/json' }, body, policy, timeoutMs });
    try {
      expect(await send('/ok')).toEqual({ kind: 'answered', status: 204, snippet: '' });
      const big = await send('/big');
      expect(big).toMatchObject({ kind: 'answered', status: 500 });
      expect(big.kind === 'answered' && big.snippet.length).toBe(200);
      expect(await send('/redirect')).toMatchObject({ kind: 'answered', status: 302 });
      expect(await send('/slow', { allowLoopback: true }, 300)).toEqual({ kind: 'no_answer', error: 'timed out' });
      expect(await send('/ok', { allowLoopback: false })).toEqual({ kind: 'no_answer', error: 'url: must be https' });
      // a name that resolves to loopback is refused at connect time, whatever the URL looked like
      const lookup = (policy: { allowLoopback: boolean }) =>
        new Promise<string>((resolve) =>
          guardedLookup(policy)('localhost', { all: true }, (err, addresses) =>
            resolve(err ? `${err.code}` : JSON.stringify(addresses)),
          ),
        );
      expect(await lookup({ allowLoopback: false })).toBe('EADDRNOTALLOWED');
      expect(await lookup({ allowLoopback: true })).toMatch(/127\.0\.0\.1|::1/);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
