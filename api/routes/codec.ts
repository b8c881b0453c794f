import { timingSafeEqual } from 'node:crypto';
import type { PayloadCodec } from '@temporalio/common';
import { Hono } from 'hono';
import { cors } from 'hono/cors';
import { AppError } from '../../lib/contracts/index.js';
import type { AuthedEnv } from '../../lib/http/middleware.js';
import { validate } from '../../lib/http/validate.js';
import { CodecBody, decodeForOperators, encodeForOperators } from '../../lib/temporal/codec-server.js';

export interface CodecServerDeps {
  codec: PayloadCodec;
  /**
   * Who may decode: `open` when auth is local (embedded mode, where anyone who reaches the api
   * can already sign in as anyone, `POST /auth/local-token`), else the operator token.
   */
  access: { open: true } | { open: false; operatorToken: string | undefined };
  /** Temporal UI's origins, whose pages call `/codec/decode` from the browser. */
  corsOrigins: string[];
}

const sameToken = (given: string, wanted: string) => {
  const a = Buffer.from(given);
  const b = Buffer.from(wanted);
  return a.length === b.length && timingSafeEqual(a, b);
};

/**
 * A codec server for Temporal UI and the CLI (README, Runbook), Temporal's remote codec
 * protocol: `POST /codec/decode` opens the payloads the platform's codec sealed, so a
 * workflow's input, result and `progress` query read in clear — except a secret's value, which
 * stays redacted; `POST /codec/encode` seals what the CLI or the UI sends (a query's or a
 * signal's arguments) as the platform's clients do.
 */
export function codecRoutes(deps: CodecServerDeps | undefined) {
  return new Hono<AuthedEnv>()
    .use(
      '*',
      cors({
        origin: deps?.corsOrigins ?? [],
        allowMethods: ['POST'],
        allowHeaders: ['content-type', 'x-namespace', 'authorization'],
        credentials: true,
        maxAge: 600,
      }),
    )
    .use('*', async (c, next) => {
      if (!deps) throw new AppError('not_found', 'this api serves no codec server');
      if (!deps.access.open) {
        const header = c.req.header('authorization') ?? '';
        const token = header.startsWith('Bearer ') ? header.slice('Bearer '.length) : '';
        if (!deps.access.operatorToken || !token || !sameToken(token, deps.access.operatorToken))
          throw new AppError('unauthorized', 'the codec server needs the operator token');
      }
      c.header('Cache-Control', 'no-store');
      await next();
    })
    .post('/decode', validate('json', CodecBody), async (c) => {
      try {
        return c.json(await decodeForOperators(deps!.codec, c.req.valid('json')));
      } catch (err) {
        throw new AppError('validation_failed', `cannot decode these payloads: ${(err as Error).message}`);
      }
    })
    .post('/encode', validate('json', CodecBody), async (c) =>
      c.json(await encodeForOperators(deps!.codec, c.req.valid('json'))),
    );
}
