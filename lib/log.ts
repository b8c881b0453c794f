import { pino, type Logger } from 'pino';

export type { Logger };

/** JSON logs on stdout. Secret values are never passed to a logger; these paths are redacted besides. */
export function createLogger(name: string): Logger {
  return pino({
    name,
    level: process.env.LOG_LEVEL ?? 'info',
    redact: {
      paths: ['*.authorization', '*.headers.authorization', '*.value', '*.secret', '*.token'],
      censor: '[redacted]',
    },
  });
}
