import { Writable } from 'node:stream';
import { context, propagation, trace } from '@opentelemetry/api';
import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { Hono } from 'hono';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AppError } from '../contracts/index.js';
import { traceIds } from '../log.js';
import { onError } from './errors.js';
import { accessLog, tagSpan, withRequestId, withTracing, type AuthedEnv } from './middleware.js';

// What an operator greps for: one JSON line per request with its request id, route pattern,
// status and error code, and the trace and span ids of the request's span.

const exporter = new InMemorySpanExporter();
const provider = new NodeTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
// as lib/tracing.ts does when tracing is on: the global provider, W3C propagation, async context
beforeAll(() => provider.register());
afterAll(async () => {
  trace.disable();
  context.disable();
  propagation.disable();
  await provider.shutdown();
});

function app() {
  const lines: Record<string, unknown>[] = [];
  const log = pino(
    { mixin: traceIds },
    new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
        done();
      },
    }),
  );
  const hono = new Hono<AuthedEnv>()
    .use('*', withTracing('test'))
    .use('*', withRequestId())
    .use('*', tagSpan())
    .use('*', accessLog(log))
    .onError(onError(log))
    .use('/v1/*', async (c, next) => {
      c.set('userId', 'user_1');
      await next();
    })
    .get('/v1/agents/:agentId', (c) => c.json({ id: c.req.param('agentId') }))
    .get('/v1/missing/:id', () => {
      throw new AppError('not_found', 'no such thing');
    });
  return { hono, lines };
}

describe('access log', () => {
  it('writes one line per request with the route pattern, never the ids in the path', async () => {
    const { hono, lines } = app();
    const res = await hono.request('/v1/agents/agt_secretish?x=1');
    expect(res.status).toBe(200);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({
      msg: 'request',
      method: 'GET',
      route: '/v1/agents/:agentId',
      status: 200,
      userId: 'user_1',
      requestId: res.headers.get('x-request-id'),
    });
    expect(JSON.stringify(lines[0])).not.toContain('agt_secretish');
  });

  it('carries the error code of an error answer', async () => {
    const { hono, lines } = app();
    const res = await hono.request('/v1/missing/abc');
    expect(res.status).toBe(404);
    expect(lines.at(-1)).toMatchObject({ status: 404, code: 'not_found', route: '/v1/missing/:id' });
  });

  it('carries the trace and span ids of the request’s span, which carries the request id', async () => {
    exporter.reset();
    const { hono, lines } = app();
    const res = await hono.request('/v1/agents/agt_1', {
      headers: { traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' },
    });
    const [span] = exporter.getFinishedSpans();
    expect(span?.name).toBe('GET /v1/agents/:agentId');
    expect(span?.spanContext().traceId).toBe('0af7651916cd43dd8448eb211c80319c');
    expect(span?.attributes['webhost.request_id']).toBe(res.headers.get('x-request-id'));
    expect(span?.attributes['enduser.id']).toBe('user_1');
    expect(lines[0]).toMatchObject({ traceId: '0af7651916cd43dd8448eb211c80319c', spanId: span?.spanContext().spanId });
  });
});
