import { useRef, useState, type FormEvent } from 'react';
import { useClients } from '../../app/api.js';
import { errorOf } from '../../app/errors.js';
import type { InvokeResponse } from '../../../../lib/contracts/invoke.js';
import { Button, Card, ErrorNotice, Field } from '../../ui/primitives.js';
import { invokeEvents, parseInput } from './stream.js';

/**
 * Invoke the agent through the gateway as its owner. Streamed answers are shown as their
 * pieces arrive (invoke/v1 SSE read from the typed client's response body); the session id
 * is kept for the next call unless changed.
 */
export function Playground({ agentId }: { agentId: string }) {
  const { gateway } = useClients();
  const [input, setInput] = useState('{"text":"one two three four five six"}');
  const [sessionId, setSessionId] = useState('');
  const [stream, setStream] = useState(true);
  const [pieces, setPieces] = useState<string[]>([]);
  const [meta, setMeta] = useState<{ requestId: string; deploymentId: string } | null>(null);
  const [usage, setUsage] = useState<{ durationMs: number; inputTokens: number; outputTokens: number } | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [running, setRunning] = useState(false);
  const abort = useRef<AbortController | null>(null);

  const run = async (e: FormEvent) => {
    e.preventDefault();
    abort.current?.abort();
    const controller = new AbortController();
    abort.current = controller;
    setPieces([]);
    setMeta(null);
    setUsage(null);
    setError(null);
    setRunning(true);
    try {
      const res = await gateway.v1.agents[':agentId'].invoke.$post(
        {
          param: { agentId },
          json: { input: parseInput(input), stream, ...(sessionId ? { sessionId } : {}) },
        },
        { init: { signal: controller.signal } },
      );
      if (!res.ok) throw await errorOf(res);
      if (!stream) {
        // the route answers JSON or a stream, so its declared type is unknown: the contract says which
        const body = (await res.json()) as InvokeResponse;
        setSessionId(body.sessionId);
        setMeta({ requestId: body.requestId, deploymentId: body.deploymentId });
        setUsage(body.usage);
        setPieces([typeof body.output === 'string' ? body.output : JSON.stringify(body.output, null, 2)]);
        return;
      }
      for await (const ev of invokeEvents(res.body!)) {
        if (ev.event === 'meta') {
          setSessionId(ev.sessionId);
          setMeta({ requestId: ev.requestId, deploymentId: ev.deploymentId });
        } else if (ev.event === 'delta') setPieces((p) => [...p, ev.text]);
        else if (ev.event === 'usage') setUsage(ev.usage);
        else if (ev.event === 'error') setError(new Error(`${ev.code}: ${ev.message}`));
      }
    } catch (err) {
      if (!controller.signal.aborted) setError(err);
    } finally {
      setRunning(false);
    }
  };

  return (
    <Card title="Playground">
      <form onSubmit={(e) => void run(e)} className="flex flex-col gap-3">
        <div className="flex flex-col gap-1">
          <label htmlFor="invoke-input" className="text-sm font-medium text-slate-700">
            Input
          </label>
          <textarea
            id="invoke-input"
            value={input}
            onChange={(e) => setInput(e.target.value)}
            rows={3}
            className="rounded-md border border-slate-300 p-2 font-mono text-sm"
          />
          <p className="text-xs text-slate-500">JSON, or plain text sent as a string.</p>
        </div>
        <div className="flex flex-wrap items-end gap-3">
          <Field
            label="Session id"
            value={sessionId}
            onChange={(e) => setSessionId(e.target.value)}
            placeholder="new session"
            hint="Kept between calls; clear it for a new session."
          />
          <label className="flex items-center gap-2 text-sm">
            <input type="checkbox" checked={stream} onChange={(e) => setStream(e.target.checked)} /> Stream (SSE)
          </label>
          <Button type="submit" disabled={running}>
            {running ? 'Invoking…' : 'Invoke'}
          </Button>
          {running ? (
            <Button variant="secondary" onClick={() => abort.current?.abort()}>
              Stop
            </Button>
          ) : null}
        </div>
      </form>
      <div className="mt-4">
        <h3 className="text-sm font-medium text-slate-700">Answer</h3>
        <output
          aria-label="Answer"
          aria-live="polite"
          data-pieces={pieces.length}
          className="mt-1 block min-h-12 rounded-md bg-slate-900 p-3 font-mono text-sm whitespace-pre-wrap text-slate-100"
        >
          {pieces.join('')}
        </output>
        <p className="mt-1 text-xs text-slate-500">
          {pieces.length} piece{pieces.length === 1 ? '' : 's'}
          {meta ? ` · request ${meta.requestId} · deployment ${meta.deploymentId}` : ''}
          {usage ? ` · ${usage.durationMs} ms · tokens ${usage.inputTokens} in / ${usage.outputTokens} out` : ''}
        </p>
        {error ? <ErrorNotice error={error} /> : null}
      </div>
    </Card>
  );
}
