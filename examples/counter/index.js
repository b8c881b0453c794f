// Counter agent: a Durable Object per session keeps a count that survives redeploys and
// restarts (the local runtime persists Durable Object state under .data/).
import { DurableObject } from 'cloudflare:workers';

export class Counter extends DurableObject {
  async fetch() {
    const count = ((await this.ctx.storage.get('count')) ?? 0) + 1;
    await this.ctx.storage.put('count', count);
    return Response.json({ count });
  }
}

export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    if (request.method === 'GET' && url.pathname === '/ping') return Response.json({ status: 'Healthy' });
    if (request.method === 'POST' && url.pathname === '/invocations') {
      const session = request.headers.get('x-webhost-session-id') ?? 'default';
      const counter = env.Counter.get(env.Counter.idFromName(session));
      const { count } = await (await counter.fetch('https://counter/')).json();
      return Response.json({ output: { session, count } });
    }
    return new Response('not found', { status: 404 });
  },
};
