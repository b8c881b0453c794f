import { ConvexClient, ConvexHttpClient } from 'convex/browser';
import type { FunctionArgs, FunctionReference, FunctionReturnType, OptionalRestArgs } from 'convex/server';

/**
 * How the Convex adapter reaches Convex: over HTTP and a WebSocket in production
 * (`convexHttpTransport`), through the `convex-test` harness in tests. Both call the same
 * function references (`api.x.y`).
 */
export interface ConvexTransport {
  query<F extends FunctionReference<'query'>>(ref: F, args: FunctionArgs<F>): Promise<FunctionReturnType<F>>;
  mutation<F extends FunctionReference<'mutation'>>(ref: F, args: FunctionArgs<F>): Promise<FunctionReturnType<F>>;
  /**
   * Calls `onResult` with the query's result, then again whenever it changes, never before
   * it has returned the function that stops. Absent on a transport without subscriptions.
   */
  subscribe?<F extends FunctionReference<'query'>>(
    ref: F,
    args: FunctionArgs<F>,
    onResult: (result: FunctionReturnType<F>) => void,
    onError: (err: Error) => void,
  ): () => void;
  close(): Promise<void>;
}

/**
 * Production: calls over HTTP, subscriptions over one WebSocket client opened on first use.
 * Mutations skip the HTTP client's queue: each store call is its own transaction, and
 * queueing them would serialize every request of the process behind one another.
 */
export function convexHttpTransport(url: string): ConvexTransport {
  const http = new ConvexHttpClient(url);
  let live: ConvexClient | undefined;
  return {
    query: (ref, args) => http.query(ref, ...([args] as OptionalRestArgs<typeof ref>)),
    mutation: (ref, args) => http.mutation(ref, args, { skipQueue: true }),
    subscribe(ref, args, onResult, onError) {
      live ??= new ConvexClient(url);
      return live.onUpdate(ref, args, onResult, onError);
    },
    close: async () => live?.close(),
  };
}
