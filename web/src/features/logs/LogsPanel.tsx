import { useEffect, useState } from 'react';
import type { LogLine } from '../../../../lib/contracts/index.js';
import { followLogs } from '../../../../lib/logs/follow.js';
import { useClients } from '../../app/api.js';
import { Card } from '../../ui/primitives.js';

/** Lines the tail keeps on screen; older ones scroll away. */
const SHOWN = 500;

type TailState = 'connecting' | 'live' | 'reconnecting' | 'stopped';

const levelClass: Record<LogLine['level'], string> = {
  debug: 'text-slate-400',
  info: 'text-sky-700',
  log: 'text-slate-700',
  warn: 'text-amber-700',
  error: 'text-red-700',
};

/**
 * The agent's live log tail: `GET /v1/agents/:id/logs` as a stream, through the typed client.
 * It never stops silently: a tail the api ends or that breaks is opened again from the last
 * line seen (`Last-Event-ID`), and lines that were dropped are said so.
 */
export function LogsPanel({ agentId }: { agentId: string }) {
  const clients = useClients();
  const [lines, setLines] = useState<LogLine[]>([]);
  const [state, setState] = useState<TailState>('connecting');
  const [notice, setNotice] = useState<string | null>(null);

  useEffect(() => {
    const abort = new AbortController();
    setLines([]);
    setState('connecting');
    const route = clients.api.v1.agents[':agentId'].logs;
    followLogs(
      {
        url: `/v1/agents/${agentId}/logs`,
        headers: {},
        signal: abort.signal,
        fetch: (_url, init) =>
          route.$get(
            { param: { agentId }, query: {} },
            { headers: init.headers as Record<string, string>, init: { signal: init.signal ?? null } },
          ),
      },
      {
        opened: () => setState('live'),
        line: (line) => setLines((shown) => [...shown, line].slice(-SHOWN)),
        dropped: (count) => setNotice(`${count} line${count === 1 ? ' was' : 's were'} dropped`),
        reconnecting: (reason) => {
          setState('reconnecting');
          setNotice(`reconnecting: ${reason}`);
        },
      },
    ).catch((err: unknown) => {
      setState('stopped');
      setNotice(err instanceof Error ? err.message : String(err));
    });
    return () => abort.abort();
  }, [agentId, clients]);

  return (
    <Card title="Logs">
      <p className="mb-2 text-xs text-slate-500" data-testid="log-state">
        {state === 'live' ? '● live' : state}
        {notice ? ` · ${notice}` : ''}
      </p>
      {lines.length === 0 ? (
        <p className="text-sm text-slate-600">
          No log lines yet. What the agent writes with <code>console.log</code> appears here as it happens.
        </p>
      ) : (
        <ol className="max-h-96 overflow-auto rounded bg-slate-50 p-2 font-mono text-xs" data-testid="log-lines">
          {lines.map((l) => (
            <li key={l.seq} className={levelClass[l.level]}>
              <span className="text-slate-400">{l.at.slice(11, 23)}</span> {l.level.padEnd(5)}{' '}
              {l.requestId ? <span className="text-slate-400">{l.requestId} </span> : null}
              {l.message}
            </li>
          ))}
        </ol>
      )}
    </Card>
  );
}
