// Streaming agent: answers POST /invocations with Server-Sent Events, one word at a time.
import { words } from './words.js';

const encoder = new TextEncoder();
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

export default {
  async fetch(request) {
    const url = new URL(request.url);
    if (request.method === 'GET' && url.pathname === '/ping') {
      return Response.json({ status: 'Healthy' });
    }
    if (request.method === 'POST' && url.pathname === '/invocations') {
      const { input } = await request.json();
      const parts = words(input);
      // shows up in the agent's logs (`webhost logs stream --follow`, the dashboard's Logs tab)
      console.log(`streaming ${parts.length} words`);
      const delayMs = Number(input?.delayMs ?? 50);
      const body = new ReadableStream({
        async start(controller) {
          for (const [i, word] of parts.entries()) {
            const event = { delta: (i === 0 ? '' : ' ') + word, index: i, at: Date.now() };
            controller.enqueue(encoder.encode(`data: ${JSON.stringify(event)}\n\n`));
            await sleep(delayMs);
          }
          controller.close();
        },
      });
      return new Response(body, { headers: { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' } });
    }
    return new Response('not found', { status: 404 });
  },
};
