import type { RequestHandler } from 'express';

/** The `Server-Timing` metric name a service uses for its own handling time of a request. */
export const SERVER_TIMING_METRIC = 'app';

/**
 * Adds `Server-Timing: app;dur=<ms>` to every answer: the time from the request's arrival to the
 * answer's headers, i.e. the service's own handling time (body parsing, the transaction, the
 * idempotency record). A caller subtracts it from what it measured to see the network and its own
 * overhead; the saga activities carry it into the workflow history (see lib/temporal/saga-timeline.ts).
 */
export function serverTiming(): RequestHandler {
  return (_req, res, next) => {
    const start = process.hrtime.bigint();
    const writeHead = res.writeHead;
    // Every answer goes through writeHead (explicitly or through the implicit header of res.end).
    res.writeHead = function (this: typeof res, ...args: Parameters<typeof writeHead>) {
      if (!res.headersSent) {
        const ms = Number(process.hrtime.bigint() - start) / 1e6;
        res.setHeader('Server-Timing', `${SERVER_TIMING_METRIC};dur=${ms.toFixed(2)}`);
      }
      return writeHead.apply(this, args);
    } as typeof writeHead;
    next();
  };
}

/** Reads the `app;dur=` value of a Server-Timing header (undefined when absent or malformed). */
export function parseServerTiming(header: string | string[] | undefined): number | undefined {
  const value = Array.isArray(header) ? header.join(',') : header;
  if (!value) return undefined;
  for (const part of value.split(',')) {
    const [name, ...params] = part.trim().split(';');
    if (name !== SERVER_TIMING_METRIC) continue;
    for (const p of params) {
      const m = /^\s*dur=([0-9]+(?:\.[0-9]+)?)\s*$/.exec(p);
      if (m) return Number(m[1]);
    }
  }
  return undefined;
}
