import type { Socket } from 'node:net';
import { serve, type ServerType } from '@hono/node-server';
import { errorStatus, type ErrorCode, type ErrorEnvelope } from '../contracts/index.js';
import { newId } from '../ids.js';

export interface Listening {
  url: string;
  close(): Promise<void>;
}

/** Request headers over this are refused (Node's default, said here so the refusal can name it). */
const MAX_HEADER_BYTES = 16 * 1024;
/** A client has this long to send its request headers. */
const HEADERS_TIMEOUT_MS = 30_000;

/** Serves a fetch handler on 127.0.0.1 (or `HOST`); port 0 picks a free port. */
export async function listen(
  fetch: (req: Request, env: unknown) => Response | Promise<Response>,
  port: number,
  hostname = process.env.HOST ?? '127.0.0.1',
): Promise<Listening> {
  const server = await new Promise<ServerType>((resolve, reject) => {
    const s = serve(
      { fetch, port, hostname, serverOptions: { maxHeaderSize: MAX_HEADER_BYTES, headersTimeout: HEADERS_TIMEOUT_MS } },
      () => resolve(s),
    );
    s.once('error', (err) => reject(new Error(`cannot listen on ${hostname}:${port}: ${err.message}`)));
  });
  server.on('clientError', answerClientError);
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

/**
 * A request Node's parser refused before any handler ran (headers too large, malformed) is
 * still answered in the error envelope, with a request id, instead of Node's empty reply.
 */
function answerClientError(err: Error & { code?: string }, socket: Socket): void {
  if (!socket.writable || err.code === 'ECONNRESET') {
    socket.destroy();
    return;
  }
  const [code, message]: [ErrorCode, string] =
    err.code === 'HPE_HEADER_OVERFLOW'
      ? ['headers_too_large', `request headers are larger than ${MAX_HEADER_BYTES / 1024} KiB`]
      : ['validation_failed', 'malformed HTTP request'];
  const requestId = newId('req');
  const body = JSON.stringify({ error: { code, message, requestId } } satisfies ErrorEnvelope);
  const status = errorStatus[code];
  socket.end(
    [
      `HTTP/1.1 ${status} ${status === 431 ? 'Request Header Fields Too Large' : 'Bad Request'}`,
      'content-type: application/json',
      `content-length: ${Buffer.byteLength(body)}`,
      `x-request-id: ${requestId}`,
      'connection: close',
      '',
      body,
    ].join('\r\n'),
  );
}
