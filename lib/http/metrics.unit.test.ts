import { Hono } from 'hono';
import { describe, expect, it } from 'vitest';
import { HttpMetrics } from './metrics.js';

describe('the /metrics exposition', () => {
  it('names no source file or path of this machine (it is served without credentials)', async () => {
    const metrics = new HttpMetrics('api');
    const app = new Hono().use('*', metrics.middleware()).get('/x', (c) => c.json({ ok: true }));
    await app.request('/x');
    const text = await (await metrics.handler()).text();
    expect(text).toContain('webhost_http_errors_total');
    expect(text).not.toMatch(/\w\.ts\b|\/work\/|node_modules|file:\/\//);
  });
});
