import pino, { type Logger } from 'pino';

/** Creates the process logger; every line carries the process name so the dev stack's merged stream stays readable. */
export function createLogger(name: string, level = 'info'): Logger {
  return pino({ name, level, base: { svc: name } });
}

export type { Logger };
