import { Agent, errors as undiciErrors, request } from 'undici';
import { ApplicationFailure, Context } from '@temporalio/activity';
import type { Attempted } from '../shared/attempted';
import { parseServerTiming } from '../lib/http/server-timing';

/**
 * Failure types for technical trouble (retried with backoff). Business rejections keep the code
 * the service answered with (e.g. INSUFFICIENT_STOCK) and are non-retryable.
 */
export const TechnicalFailureTypes = {
  SERVICE_UNAVAILABLE: 'SERVICE_UNAVAILABLE',
  SERVICE_UNREACHABLE: 'SERVICE_UNREACHABLE',
  SERVICE_TIMEOUT: 'SERVICE_TIMEOUT',
  BAD_RESPONSE: 'BAD_RESPONSE',
} as const;

export interface HttpClientOptions {
  timeoutMs: number;
  connections: number;
}

/** One keep-alive connection pool for all service calls of a worker process. */
export function createAgent(opts: HttpClientOptions): Agent {
  return new Agent({ connections: opts.connections, keepAliveTimeout: 30_000, keepAliveMaxTimeout: 60_000 });
}

function activityAttempt(): number {
  try {
    return Context.current().info.attempt;
  } catch {
    return 1; // called outside an activity (a script or a test of the client itself)
  }
}

/**
 * The pause before the next attempt of a failed call, with jitter: the retry policy's own back-off
 * for this attempt (initial × coefficient^(attempt−1), capped at its maximum interval), drawn from
 * its upper half ("equal jitter"). Without it the sagas that failed together during an outage retry
 * together when the service is back, in waves that fail it again; the policy's maximum attempts
 * still bound the retries. Undefined outside an activity or without a policy (the server's own back-off applies).
 */
export function jitteredRetryDelayMs(random: () => number = Math.random): number | undefined {
  let info: {
    attempt: number;
    retryPolicy?: { initialInterval?: unknown; maximumInterval?: unknown; backoffCoefficient?: number };
  };
  try {
    info = Context.current().info;
  } catch {
    return undefined;
  }
  const policy = info.retryPolicy;
  const initial = typeof policy?.initialInterval === 'number' ? policy.initialInterval : undefined;
  if (!policy || initial === undefined || initial <= 0) return undefined;
  const cap = typeof policy.maximumInterval === 'number' ? policy.maximumInterval : initial * 100;
  const backoff = Math.min(cap, initial * (policy.backoffCoefficient ?? 2) ** Math.max(0, info.attempt - 1));
  return Math.round(backoff / 2 + random() * (backoff / 2));
}

function activitySignal(): AbortSignal | undefined {
  try {
    return Context.current().cancellationSignal;
  } catch {
    return undefined;
  }
}

/**
 * A typed HTTP client for one service. This is the single place where service answers become
 * Temporal failures:
 * - 2xx → the parsed body;
 * - 4xx (but 408/429, 401/403) with `{ error: { code } }` → non-retryable ApplicationFailure whose
 *   `type` is the code: the service refused and changed nothing, the saga compensates at once;
 * - 401/403 (the service does not accept this caller's SERVICE_TOKEN): retryable, `type`
 *   UNAUTHORIZED/FORBIDDEN. Nothing happened, and the cause is configuration (a token being
 *   rotated, a service not yet listing this caller): compensations keep retrying until it is fixed
 *   instead of failing for good;
 * - 5xx, 408, 429, refused/reset connections and timeouts → retryable failures.
 * Every failure's details carry `{ attempt, status, service }`.
 */
export class ServiceClient {
  constructor(
    readonly service: string,
    private readonly baseUrl: string,
    private readonly agent: Agent,
    private readonly timeoutMs: number,
    /** This caller's bearer token for the services (SERVICE_TOKEN; lib/auth/service-auth.ts). */
    private readonly token: string,
  ) {}

  async call<T>(
    method: 'GET' | 'POST' | 'PUT',
    path: string,
    opts: { body?: unknown; idempotencyKey?: string } = {},
  ): Promise<Attempted<T>> {
    const attempt = activityAttempt();
    const where = `${this.service} ${method} ${path}`;
    const headers: Record<string, string> = { accept: 'application/json', authorization: `Bearer ${this.token}` };
    if (opts.body !== undefined) headers['content-type'] = 'application/json';
    if (opts.idempotencyKey) headers['idempotency-key'] = opts.idempotencyKey;
    const signals = [AbortSignal.timeout(this.timeoutMs), activitySignal()].filter(
      (s): s is AbortSignal => s !== undefined,
    );
    let status: number;
    let text: string;
    let serviceMs: number | undefined;
    let replayed: boolean;
    try {
      const res = await request(new URL(path, this.baseUrl), {
        method,
        headers,
        body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
        dispatcher: this.agent,
        signal: AbortSignal.any(signals),
        headersTimeout: this.timeoutMs,
        bodyTimeout: this.timeoutMs,
      });
      status = res.statusCode;
      serviceMs = parseServerTiming(res.headers['server-timing']);
      replayed = res.headers['idempotent-replayed'] === 'true';
      text = await res.body.text();
    } catch (err) {
      const e = err as { name?: string; code?: string; message?: string };
      const timedOut =
        e.name === 'TimeoutError' ||
        err instanceof undiciErrors.HeadersTimeoutError ||
        err instanceof undiciErrors.BodyTimeoutError ||
        e.code === 'UND_ERR_HEADERS_TIMEOUT' ||
        e.code === 'UND_ERR_BODY_TIMEOUT';
      throw ApplicationFailure.create({
        type: timedOut ? TechnicalFailureTypes.SERVICE_TIMEOUT : TechnicalFailureTypes.SERVICE_UNREACHABLE,
        message: `${where}: ${timedOut ? `no answer within ${this.timeoutMs} ms` : (e.code ?? e.message ?? 'connection failed')}`,
        nonRetryable: false,
        nextRetryDelay: jitteredRetryDelayMs(),
        details: [{ attempt, service: this.service }],
      });
    }
    let body: unknown;
    try {
      body = text.length > 0 ? JSON.parse(text) : undefined;
    } catch {
      body = undefined;
    }
    if (status >= 200 && status < 300) {
      if (body === undefined) {
        throw ApplicationFailure.create({
          type: TechnicalFailureTypes.BAD_RESPONSE,
          message: `${where}: ${status} without a JSON body`,
          nextRetryDelay: jitteredRetryDelayMs(),
          details: [{ attempt, status, service: this.service }],
        });
      }
      return {
        value: body as T,
        attempt,
        ...(serviceMs !== undefined ? { serviceMs } : {}),
        ...(replayed ? { replayed } : {}),
      };
    }
    const error = (body as { error?: { code?: string; message?: string; details?: unknown } } | undefined)?.error;
    const refusedCaller = status === 401 || status === 403;
    const business = status >= 400 && status < 500 && status !== 408 && status !== 429 && !refusedCaller;
    throw ApplicationFailure.create({
      type: business || refusedCaller ? (error?.code ?? `HTTP_${status}`) : TechnicalFailureTypes.SERVICE_UNAVAILABLE,
      message: `${where} → ${status}: ${error?.message ?? text.slice(0, 200)}`,
      nonRetryable: business,
      ...(business ? {} : { nextRetryDelay: jitteredRetryDelayMs() }),
      details: [{ attempt, status, service: this.service, code: error?.code, errorDetails: error?.details }],
    });
  }
}
