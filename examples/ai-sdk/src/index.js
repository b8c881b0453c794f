// An agent written with the Vercel AI SDK and Hono, deployed as it is: `webhost deploy examples/ai-sdk`.
// The model is the AI SDK's own mock (`ai/test`), so it answers without a network or a key;
// swap in a provider (`@ai-sdk/openai`, …) and a secret for a real one. It reads one secret,
// `GREETING` (`webhost secrets set ai-sdk GREETING`), to show where secrets arrive: `c.env`.
//   POST /invocations { input }  → JSON { output: { text }, usage }          (generateText)
//                                → SSE, AI SDK UI message stream frames     (streamText), when the
//                                  caller accepts text/event-stream (the gateway's `stream: true`)
//   GET /ping                    → { status: 'Healthy' }
import { generateText, simulateReadableStream, streamText } from 'ai';
import { MockLanguageModelV4 } from 'ai/test';
import { Hono } from 'hono';

/** What the mock model says to a prompt: a few words, so a stream has several chunks. */
function reply(prompt, greeting) {
  const opening = greeting ? `${greeting}! ` : '';
  return `${opening}You said: ${prompt}. This answer comes from the AI SDK mock model, streamed word by word.`;
}

function usageOf(prompt, text) {
  const inputTokens = prompt.split(/\s+/).filter(Boolean).length;
  const outputTokens = text.split(/\s+/).filter(Boolean).length;
  return {
    inputTokens: { total: inputTokens, noCache: inputTokens, cacheRead: 0, cacheWrite: 0 },
    outputTokens: { total: outputTokens, text: outputTokens, reasoning: 0 },
  };
}

/** A model that needs no network: the reply at once, or streamed a word at a time. */
function mockModel(prompt, greeting) {
  const text = reply(prompt, greeting);
  const usage = usageOf(prompt, text);
  const finishReason = { unified: 'stop', raw: 'stop' };
  return new MockLanguageModelV4({
    modelId: 'mock-echo',
    doGenerate: async () => ({ content: [{ type: 'text', text }], finishReason, usage, warnings: [] }),
    doStream: async () => ({
      stream: simulateReadableStream({
        chunkDelayInMs: 20,
        chunks: [
          { type: 'stream-start', warnings: [] },
          { type: 'text-start', id: 't1' },
          ...text.split(/(?<= )/).map((delta) => ({ type: 'text-delta', id: 't1', delta })),
          { type: 'text-end', id: 't1' },
          { type: 'finish', finishReason, usage },
        ],
      }),
    }),
  });
}

/** The prompt in `{ input }`: a string, or `{ prompt }` / `{ text }`. */
function promptOf(input) {
  if (typeof input === 'string') return input;
  return String(input?.prompt ?? input?.text ?? 'hello');
}

const app = new Hono();

app.get('/ping', (c) => c.json({ status: 'Healthy' }));

app.post('/invocations', async (c) => {
  const { input } = await c.req.json();
  const prompt = promptOf(input);
  const model = mockModel(prompt, c.env?.GREETING);
  if ((c.req.header('accept') ?? '').includes('text/event-stream')) {
    const result = streamText({ model, prompt });
    // the finish frame carries the token usage, which the platform's shim reads
    return result.toUIMessageStreamResponse({
      messageMetadata: ({ part }) => (part.type === 'finish' ? { usage: part.totalUsage } : undefined),
    });
  }
  const result = await generateText({ model, prompt });
  const { inputTokens, outputTokens, totalTokens } = result.usage;
  return c.json({ output: { text: result.text }, usage: { inputTokens, outputTokens, totalTokens } });
});

export default app;
