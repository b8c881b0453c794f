import { EventSourceParserStream } from 'eventsource-parser/stream';

/** The text a `delta` event carries: the stream example's `{ delta }`, the AI SDK's text deltas, a JSON `{ output }`, or the data as it is. */
export function textOfDelta(data: string): string {
  let v: unknown;
  try {
    v = JSON.parse(data);
  } catch {
    return data;
  }
  if (typeof v === 'string') return v;
  if (v && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    if (o.type !== undefined && o.type !== 'text-delta' && o.type !== 'text') return '';
    for (const k of ['delta', 'textDelta', 'text']) if (typeof o[k] === 'string') return o[k];
    if ('output' in o) return typeof o.output === 'string' ? o.output : JSON.stringify(o.output);
  }
  return data;
}

/** What the playground input box holds, as an invoke's `input`: JSON when it parses, else the text. */
export function parseInput(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

export type InvokeStreamEvent =
  | { event: 'meta'; requestId: string; sessionId: string; deploymentId: string }
  | { event: 'delta'; text: string; raw: string }
  | { event: 'usage'; usage: { durationMs: number; inputTokens: number; outputTokens: number } }
  | { event: 'done'; requestId: string }
  | { event: 'error'; code: string; message: string; requestId?: string };

/** invoke/v1's SSE events (meta, delta…, usage, done | error) from a response body, as they arrive. */
export async function* invokeEvents(body: ReadableStream<Uint8Array<ArrayBuffer>>): AsyncGenerator<InvokeStreamEvent> {
  const events = body.pipeThrough(new TextDecoderStream()).pipeThrough(new EventSourceParserStream());
  for await (const ev of events) {
    if (ev.event === 'delta') yield { event: 'delta', text: textOfDelta(ev.data), raw: ev.data };
    else if (ev.event === 'meta' || ev.event === 'usage' || ev.event === 'done' || ev.event === 'error') {
      const data = JSON.parse(ev.data) as Record<string, unknown>;
      if (ev.event === 'usage') yield { event: 'usage', usage: data as never };
      else yield { event: ev.event, ...data } as InvokeStreamEvent;
    }
  }
}
