import { useEffect, useState } from 'react';
import type { QueryClient } from '@tanstack/react-query';
import { EventSourceParserStream } from 'eventsource-parser/stream';
import type { Clients } from './api.js';
import { keysOfChange } from './query-keys.js';

export type LiveState = 'connecting' | 'live' | 'reconnecting';

/**
 * Embedded mode's live updates: `GET /v1/events` (SSE) read through the typed client (an
 * EventSource cannot send the Authorization header), each `change` invalidating the queries
 * it concerns and a `reset` all of them. Reconnects with backoff; a reconnect is a reset too,
 * since changes may have been missed meanwhile.
 */
export function useLiveEvents(clients: Clients | null, queryClient: QueryClient, enabled: boolean): LiveState {
  const [state, setState] = useState<LiveState>('connecting');
  useEffect(() => {
    if (!clients || !enabled) return;
    const abort = new AbortController();
    let attempt = 0;
    const run = async () => {
      while (!abort.signal.aborted) {
        try {
          const res = await clients.api.v1.events.$get({}, { init: { signal: abort.signal } });
          if (!res.ok || !res.body) throw new Error(`events answered ${res.status}`);
          const events = res.body.pipeThrough(new TextDecoderStream()).pipeThrough(new EventSourceParserStream());
          for await (const ev of events) {
            if (ev.event === 'ready') {
              if (attempt > 0) await queryClient.invalidateQueries();
              attempt = 0;
              setState('live');
            } else if (ev.event === 'reset') {
              await queryClient.invalidateQueries();
            } else if (ev.event === 'change') {
              const change = JSON.parse(ev.data) as { kind: 'agent' | 'deployment'; id: string };
              await Promise.all(keysOfChange(change).map((queryKey) => queryClient.invalidateQueries({ queryKey })));
            }
          }
        } catch {
          // dropped, refused or aborted: try again below unless we were stopped
        }
        if (abort.signal.aborted) return;
        setState('reconnecting');
        attempt++;
        await new Promise((r) => setTimeout(r, Math.min(500 * 2 ** attempt, 10_000)));
      }
    };
    void run();
    return () => abort.abort();
  }, [clients, queryClient, enabled]);
  return state;
}
