import { describe, expect, it } from 'vitest';
import { invokeEvents, parseInput, textOfDelta } from './stream.js';

/** A body that arrives in the chunks given, split anywhere (even inside an event). */
const body = (chunks: string[]) =>
  new ReadableStream<Uint8Array<ArrayBuffer>>({
    start(c) {
      for (const ch of chunks) c.enqueue(new TextEncoder().encode(ch) as Uint8Array<ArrayBuffer>);
      c.close();
    },
  });

describe('playground stream', () => {
  it('reads invoke/v1 events as they come, deltas as text', async () => {
    const stream = [
      'event: meta\ndata: {"requestId":"req_1","sessionId":"ses_1","deploymentId":"dep_1"}\n\n',
      'event: delta\ndata: {"delta":"one"}\n\nevent: del',
      'ta\ndata: {"delta":" two"}\n\n',
      'event: usage\ndata: {"durationMs":5,"inputTokens":1,"outputTokens":2}\n\n',
      'event: done\ndata: {"requestId":"req_1"}\n\n',
    ];
    const seen = [];
    for await (const ev of invokeEvents(body(stream))) seen.push(ev);
    expect(seen.map((e) => e.event)).toEqual(['meta', 'delta', 'delta', 'usage', 'done']);
    expect(seen.filter((e) => e.event === 'delta').map((e) => e.text)).toEqual(['one', ' two']);
    expect(seen[0]).toMatchObject({ sessionId: 'ses_1', deploymentId: 'dep_1' });
  });

  it('an error event ends the stream with its code and message', async () => {
    const seen = [];
    for await (const ev of invokeEvents(
      body(['event: error\ndata: {"code":"timeout","message":"too slow","requestId":"req_2"}\n\n']),
    ))
      seen.push(ev);
    expect(seen).toEqual([{ event: 'error', code: 'timeout', message: 'too slow', requestId: 'req_2' }]);
  });

  it('takes the text from the shapes agents stream', () => {
    expect(textOfDelta('{"delta":"hi","index":0}')).toBe('hi');
    expect(textOfDelta('{"type":"text-delta","id":"0","delta":"hey"}')).toBe('hey');
    expect(textOfDelta('{"type":"start-step"}')).toBe('');
    expect(textOfDelta('{"output":{"a":1}}')).toBe('{"a":1}');
    expect(textOfDelta('"plain"')).toBe('plain');
    expect(textOfDelta('not json')).toBe('not json');
  });

  it('sends JSON input as JSON and anything else as a string', () => {
    expect(parseInput('{"text":"a"}')).toEqual({ text: 'a' });
    expect(parseInput('hello there')).toBe('hello there');
  });
});
