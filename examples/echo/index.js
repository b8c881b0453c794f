// Echo agent: answers POST /invocations with JSON. Deploys to the local runtime as is.
const VERSION = 'v1';

export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    if (request.method === 'GET' && url.pathname === '/ping') {
      return Response.json({ status: 'Healthy' });
    }
    if (request.method === 'POST' && url.pathname === '/invocations') {
      const { input } = await request.json();
      return Response.json({
        output: {
          echo: input,
          version: VERSION,
          sessionId: request.headers.get('x-webhost-session-id'),
          greeting: env.GREETING ?? null,
        },
      });
    }
    return new Response('not found', { status: 404 });
  },
};
