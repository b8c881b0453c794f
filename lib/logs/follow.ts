import { createParser } from 'eventsource-parser';
import type { LogLine } from '../contracts/index.js';

/** What a follower reports. */
export interface FollowHandlers {
  line(line: LogLine): void;
  /** Lines that will never be seen: the shim dropped them, or they were gone before the tail read them. */
  dropped(count: number): void;
  /** The tail ended or broke and is being opened again. */
  reconnecting(reason: string, attempt: number): void;
  /** A tail is open (again): lines follow as they are kept. */
  opened?(): void;
}

export interface FollowOptions {
  /** `…/v1/agents/<id>/logs` */
  url: string;
  headers: Record<string, string>;
  signal?: AbortSignal;
  fetch?: (url: string, init: RequestInit) => Promise<Response>;
  /** Pause before reconnecting, doubled on each failed try up to 30 s; reset by a stream that delivered. */
  retryMs?: number;
  /** How long a stream may stay silent (no line, no heartbeat) before it is taken as broken. */
  idleMs?: number;
}

/**
 * Follows an agent's log tail (`GET /v1/agents/:id/logs`, `Accept: text/event-stream`) until
 * `signal` aborts: when the stream ends (the api closes tails after a while) or breaks (a
 * network error, a silent connection), it reconnects with `Last-Event-ID` set to the last line
 * it saw, so nothing is repeated and nothing is skipped without being told (`dropped`). A 4xx
 * other than 429 is final and thrown.
 */
export async function followLogs(opts: FollowOptions, on: FollowHandlers): Promise<void> {
  const doFetch = opts.fetch ?? ((url: string, init: RequestInit) => fetch(url, init));
  const baseRetry = opts.retryMs ?? 1000;
  const idleMs = opts.idleMs ?? 45_000;
  let lastId: string | null = null;
  let retry = baseRetry;
  for (let attempt = 0; !opts.signal?.aborted; attempt++) {
    let reason = 'the stream ended';
    const cut = new AbortController();
    const onAbort = () => cut.abort();
    opts.signal?.addEventListener('abort', onAbort);
    let idle: ReturnType<typeof setTimeout> | undefined;
    const touch = () => {
      clearTimeout(idle);
      idle = setTimeout(() => cut.abort(new Error(`no data for ${idleMs} ms`)), idleMs);
    };
    try {
      touch();
      const headers: Record<string, string> = { ...opts.headers, accept: 'text/event-stream' };
      if (lastId) headers['last-event-id'] = lastId;
      const res = await doFetch(opts.url, { headers, signal: cut.signal });
      if (!res.ok || !res.body) {
        const text = await res.text().catch(() => '');
        if (res.status >= 400 && res.status < 500 && res.status !== 429 && res.status !== 408)
          throw new FollowError(`${res.status}: ${text}`);
        throw new Error(`the api answered ${res.status}`);
      }
      on.opened?.();
      const parser = createParser({
        onEvent: (ev) => {
          if (ev.id !== undefined) lastId = ev.id;
          if (ev.event === 'log') on.line(JSON.parse(ev.data) as LogLine);
          else if (ev.event === 'dropped') on.dropped((JSON.parse(ev.data) as { dropped: number }).dropped);
          else if (ev.event === 'error')
            reason = (JSON.parse(ev.data) as { message?: string }).message ?? 'the tail stopped';
          retry = baseRetry;
        },
        onComment: () => undefined, // heartbeats: `touch` below already saw them arrive
      });
      const decoder = new TextDecoder();
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        touch();
        parser.feed(decoder.decode(chunk, { stream: true }));
      }
    } catch (err) {
      if (err instanceof FollowError) throw err;
      if (opts.signal?.aborted) return;
      reason = err instanceof Error ? err.message : String(err);
      if (cut.signal.reason instanceof Error) reason = cut.signal.reason.message;
    } finally {
      clearTimeout(idle);
      opts.signal?.removeEventListener('abort', onAbort);
    }
    if (opts.signal?.aborted) return;
    on.reconnecting(reason, attempt + 1);
    await new Promise((r) => setTimeout(r, retry));
    retry = Math.min(retry * 2, 30_000);
  }
}

/** A refusal that reconnecting would not change (not found, unauthorized). */
export class FollowError extends Error {}
