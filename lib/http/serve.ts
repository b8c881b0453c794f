import { serve, type ServerType } from '@hono/node-server';

export interface Listening {
  url: string;
  close(): Promise<void>;
}

/** Serves a fetch handler on 127.0.0.1 (or `HOST`); port 0 picks a free port. */
export async function listen(
  fetch: (req: Request) => Response | Promise<Response>,
  port: number,
  hostname = process.env.HOST ?? '127.0.0.1',
): Promise<Listening> {
  const server = await new Promise<ServerType>((resolve, reject) => {
    const s = serve({ fetch, port, hostname }, () => resolve(s));
    s.once('error', (err) => reject(new Error(`cannot listen on ${hostname}:${port}: ${err.message}`)));
  });
  const address = server.address();
  const actual = typeof address === 'object' && address ? address.port : port;
  return {
    url: `http://${hostname}:${actual}`,
    close: () =>
      new Promise<void>((resolve) => {
        if ('closeAllConnections' in server) server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
