/// <reference types="vite/client" />
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { convexTest, type TestConvex } from 'convex-test';
import { makeFunctionReference, type FunctionReference } from 'convex/server';
import { ConvexError, convexToJson, jsonToConvex, type JSONValue, type Value } from 'convex/values';
import schema from '../../convex/schema.js';
import type { ConvexTransport } from '../../lib/store/convex/index.js';

/** Every module under convex/, as convex-test loads them (it finds the root by `_generated`). */
const convexModules = import.meta.glob('../../convex/**/*.*s');

export type TestBackend = TestConvex<typeof schema>;

/** A fresh, empty backend with our schema and functions. */
export const newTestBackend = (): TestBackend => convexTest(schema, convexModules);

/**
 * `ConvexStore`'s transport over a convex-test backend. convex-test has no subscriptions, so
 * this one re-runs each subscribed query after every mutation it carries and hands over the
 * new result, as Convex's sync pushes one after a commit. What it cannot show is results
 * coalescing across commits, which `followChanges` is built for and tested on apart.
 */
export function testTransport(t: TestBackend): ConvexTransport {
  const subscriptions = new Set<() => Promise<void>>();
  return {
    query: (ref: FunctionReference<'query'>, args) => t.query(ref, args),
    async mutation(ref: FunctionReference<'mutation'>, args) {
      const result: unknown = await t.mutation(ref, args);
      for (const refresh of subscriptions) await refresh();
      return result;
    },
    subscribe(ref: FunctionReference<'query'>, args, onResult, onError) {
      const refresh = () => t.query(ref, args).then(onResult, onError);
      subscriptions.add(refresh);
      void refresh();
      return () => subscriptions.delete(refresh);
    },
    close: async () => {},
  };
}

/**
 * A stand-in for a Convex deployment's HTTP API in front of a convex-test backend: the two
 * routes `ConvexHttpClient` calls (`/api/query`, `/api/mutation`), answering as Convex does —
 * a result, a `ConvexError`'s data, or another error's message. It lets tests run the
 * production transport (`convexHttpTransport`) against our functions.
 */
export async function serveOverHttp(t: TestBackend): Promise<{ url: string; close(): Promise<void> }> {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const { path, args } = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { path: string; args: [JSONValue] };
      const decoded = jsonToConvex(args[0]) as Record<string, Value>;
      const call: Promise<Value> =
        req.url === '/api/mutation'
          ? t.mutation(makeFunctionReference<'mutation'>(path), decoded)
          : t.query(makeFunctionReference<'query'>(path), decoded);
      const answer = (status: number, body: unknown) =>
        res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
      call.then(
        (value) => answer(200, { status: 'success', value: convexToJson(value), logLines: [] }),
        (err: Error) =>
          answer(560, {
            status: 'error',
            errorMessage: err.message,
            logLines: [],
            ...(err instanceof ConvexError ? { errorData: convexToJson(err.data as Value) } : {}),
          }),
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, close: () => new Promise((resolve) => server.close(() => resolve())) };
}
