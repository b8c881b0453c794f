// @vitest-environment happy-dom
import { QueryClientProvider } from '@tanstack/react-query';
import { cleanup, render, screen, waitFor } from '@testing-library/react';
import { afterEach, describe, expect, it } from 'vitest';
import { createClients } from './api.js';
import { useLiveEvents } from './live.js';
import { createQueryClient } from './query-client.js';
import { keysOfChange, qk } from './query-keys.js';

afterEach(cleanup);

describe('live updates from /v1/events', () => {
  it('invalidates what a change concerns, and only that', async () => {
    let push: (s: string) => void = () => {};
    const fetchImpl = (async () =>
      new Response(
        new ReadableStream<Uint8Array>({
          start(c) {
            push = (s) => c.enqueue(new TextEncoder().encode(s));
            push('event: ready\ndata: {}\n\n');
          },
        }),
        { headers: { 'content-type': 'text/event-stream' } },
      )) as typeof fetch;
    const clients = createClients(() => Promise.resolve('t'), 'http://dash.test', fetchImpl);
    const queryClient = createQueryClient();
    queryClient.setQueryData(qk.deployment('dep_1'), { id: 'dep_1' });
    queryClient.setQueryData(qk.deployment('dep_2'), { id: 'dep_2' });
    queryClient.setQueryData(qk.secrets('agt_9'), { items: [] });
    function Probe() {
      return <p role="status">{useLiveEvents(clients, queryClient, true)}</p>;
    }
    render(
      <QueryClientProvider client={queryClient}>
        <Probe />
      </QueryClientProvider>,
    );
    await waitFor(() => expect(screen.getByRole('status').textContent).toBe('live'));
    push('event: change\ndata: {"kind":"deployment","id":"dep_1"}\n\n');
    await waitFor(() => expect(queryClient.getQueryState(qk.deployment('dep_1'))?.isInvalidated).toBe(true));
    expect(queryClient.getQueryState(qk.deployment('dep_2'))?.isInvalidated).toBe(false);
    expect(queryClient.getQueryState(qk.secrets('agt_9'))?.isInvalidated).toBe(false);
    push('event: reset\ndata: {}\n\n');
    await waitFor(() => expect(queryClient.getQueryState(qk.secrets('agt_9'))?.isInvalidated).toBe(true));
  });

  it('an agent change makes its lists, secrets and deployments stale', () => {
    const keys = keysOfChange({ kind: 'agent', id: 'agt_1' }).map((k) => k.join('/'));
    expect(keys).toEqual(expect.arrayContaining(['agents', 'secrets/agt_1', 'deployments/of/agt_1', 'audit']));
  });
});
