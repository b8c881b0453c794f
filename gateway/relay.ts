import { createParser, type EventSourceMessage } from 'eventsource-parser';
import type { TokenCounts } from '../lib/contracts/index.js';

// Reading an agent's answer: Server-Sent Events as they complete, or a JSON `{ output }`,
// never more of it than the reply limit allows.

/** The agent sent more than the reply limit: reading stopped there. */
export class ReplyTooLarge extends Error {
  constructor(readonly limitBytes: number) {
    super(`the agent's reply passed the ${limitBytes}-byte reply limit`);
  }
}

/** The body's chunks as they arrive, failing with `ReplyTooLarge` once more than `limitBytes` came. */
export async function* limited(body: AsyncIterable<Uint8Array>, limitBytes: number): AsyncGenerator<Uint8Array> {
  let seen = 0;
  for await (const chunk of body) {
    seen += chunk.byteLength;
    if (seen > limitBytes) throw new ReplyTooLarge(limitBytes);
    yield chunk;
  }
}

/** A whole body as text, within the limit. */
export async function readText(body: AsyncIterable<Uint8Array>, limitBytes: number): Promise<string> {
  const chunks: Uint8Array[] = [];
  for await (const chunk of limited(body, limitBytes)) chunks.push(chunk);
  return Buffer.concat(chunks).toString('utf8');
}

/** At most `maxBytes` of a body as text; the rest is not read. */
export async function readExcerpt(body: AsyncIterable<Uint8Array>, maxBytes: number): Promise<string> {
  const chunks: Uint8Array[] = [];
  let seen = 0;
  for await (const chunk of body) {
    chunks.push(chunk);
    seen += chunk.byteLength;
    if (seen >= maxBytes) break;
  }
  return Buffer.concat(chunks).toString('utf8').slice(0, maxBytes);
}

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

/** A token count the agent reported: a number, or the AI SDK provider shape `{ total }`. */
function count(v: unknown): number | null {
  if (typeof v === 'number' && Number.isFinite(v) && v >= 0) return Math.min(Math.floor(v), 1e9);
  if (v !== null && typeof v === 'object' && 'total' in v) return count((v as { total: unknown }).total);
  return null;
}

/**
 * The tokens an agent reported in a `usage` object: the AI SDK's `{ inputTokens, outputTokens }`
 * (or its older `{ promptTokens, completionTokens }`), or the `input_tokens`/`prompt_tokens`
 * names model APIs use.
 */
function tokensOfUsage(usage: unknown): TokenCounts | null {
  if (usage === null || typeof usage !== 'object') return null;
  const u = usage as Record<string, unknown>;
  const input = count(u.inputTokens ?? u.promptTokens ?? u.input_tokens ?? u.prompt_tokens);
  const output = count(u.outputTokens ?? u.completionTokens ?? u.output_tokens ?? u.completion_tokens);
  if (input === null && output === null) return null;
  return { inputTokens: input ?? 0, outputTokens: output ?? 0 };
}

/**
 * The token usage in one parsed answer or stream event, if it carries one: a top-level `usage`
 * (a JSON answer, a `usage` event), an AI SDK UI-stream frame's `messageMetadata.usage`, or a
 * `finish` frame's `totalUsage`.
 */
export function tokensIn(value: unknown): TokenCounts | null {
  if (value === null || typeof value !== 'object') return null;
  const v = value as Record<string, unknown>;
  const meta = v.messageMetadata as Record<string, unknown> | undefined;
  return tokensOfUsage(v.usage) ?? tokensOfUsage(meta?.usage) ?? tokensOfUsage(v.totalUsage);
}

/** The token usage in a text answer or event, if it is JSON that carries one. */
export function tokensInText(text: string): TokenCounts | null {
  if (!text.includes('sage')) return null; // neither `usage` nor `totalUsage`: skip the parse
  try {
    return tokensIn(JSON.parse(text));
  } catch {
    return null;
  }
}
