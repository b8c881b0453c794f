import { createParser, type EventSourceMessage } from 'eventsource-parser';

// Reading an agent's answer: Server-Sent Events as they complete, or a JSON `{ output }`.

/** The data of each Server-Sent Event in an agent's body, as soon as the event is complete. */
export async function* agentEvents(body: AsyncIterable<Uint8Array>): AsyncGenerator<string> {
  const ready: EventSourceMessage[] = [];
  const parser = createParser({ onEvent: (ev) => ready.push(ev) });
  const decoder = new TextDecoder();
  for await (const chunk of body) {
    parser.feed(decoder.decode(chunk, { stream: true }));
    while (ready.length) yield ready.shift()!.data;
  }
  parser.feed(decoder.decode());
  while (ready.length) yield ready.shift()!.data;
}

/** An agent answers `{ output }`; anything else it sends is passed on whole. */
export function parseOutput(text: string): unknown {
  try {
    const json: unknown = JSON.parse(text);
    return json !== null && typeof json === 'object' && 'output' in json ? json.output : json;
  } catch {
    return text;
  }
}

/** A stream of `{ "delta": "…" }` events reads as one text; any other stream as its list of events. */
export function joinDeltas(events: string[]): unknown {
  const parsed = events.map((e) => {
    try {
      return JSON.parse(e) as unknown;
    } catch {
      return e;
    }
  });
  const isDelta = (p: unknown): p is { delta: string } =>
    p !== null && typeof p === 'object' && typeof (p as { delta?: unknown }).delta === 'string';
  return parsed.every(isDelta) ? parsed.map((p) => p.delta).join('') : parsed;
}
