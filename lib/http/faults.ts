/**
 * Fault injection for the services, so chaos runs and tests can make them fail the ways real
 * services do: a 5xx, a slow answer, an answer lost after the effect committed, and a service that
 * is down. It exists only when the service is configured for it (FAULTS_ENABLED with an
 * ADMIN_TOKEN); otherwise nothing of it is mounted and `/admin/faults` is a plain 404.
 *
 * Faults are drawn from a seeded PRNG, one stream per rule, so the same seed and the same sequence
 * of requests give the same faults: a run can be repeated.
 */
import express, { type Express, type Request, type RequestHandler, type Response } from 'express';
import type { Logger } from 'pino';
import { z } from 'zod';
import { AppError, ErrorCodes, errorBody } from '../errors';
import { afterCommit, jsonBody, parse } from './http';
import { bearerAuth } from '../auth/bearer-auth';

export const FAULTS_PATH = '/admin/faults';

const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'] as const;
type Method = (typeof METHODS)[number];

export const faultRuleSchema = z.strictObject({
  /** `'*'` (every request) or a method and the route pattern exactly as the service declares it. */
  route: z
    .string()
    .regex(
      new RegExp(`^(\\*|(${METHODS.join('|')}) /\\S*)$`),
      "'*' or a method and a route pattern as the service declares it, e.g. 'POST /charges'",
    ),
  /** Share of matching requests answered 503 without running the handler. */
  failureRate: z.number().min(0).max(1).default(0),
  /** Delay before a matching request is handled. */
  latencyMs: z.number().int().min(0).max(60_000).default(0),
  /** Share of matching requests whose transaction commits and whose connection is then destroyed without an answer. */
  crashAfterCommitRate: z.number().min(0).max(1).default(0),
});
export type FaultRule = z.infer<typeof faultRuleSchema>;

export const faultConfigSchema = z.strictObject({
  seed: z.number().int(),
  /** The first rule that matches a request applies to it. */
  rules: z
    .array(faultRuleSchema)
    .max(50)
    .default([])
    .refine(
      (rules) => new Set(rules.map((r) => r.route)).size === rules.length,
      'each route may appear in one rule only',
    ),
  /** For this long (from now), every request's connection is reset before it is read. */
  downForMs: z.number().int().min(0).max(3_600_000).optional(),
});
export type FaultConfig = z.infer<typeof faultConfigSchema>;

export const FAULT_KINDS = ['failure', 'latency', 'crashAfterCommit', 'down'] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];
type RuleFaultKind = Exclude<FaultKind, 'down'>;

/** What `GET /admin/faults` answers (and PUT and DELETE). */
export interface FaultsView {
  /** The configuration in force, as it was set; null when none is. */
  config: FaultConfig | null;
  /** When it was set. */
  since: string | null;
  /** Until when the service plays dead, if it does. */
  downUntil: string | null;
  /** Faults injected since the configuration was set, per kind. */
  injected: Record<FaultKind, number>;
  /** Per rule: requests it matched and the faults it injected. */
  byRule: { route: string; matched: number; injected: Record<RuleFaultKind, number> }[];
  /** The routes this service declares, as rules name them. */
  routes: string[];
}

/** mulberry32: a tiny, well-mixed 32-bit PRNG; returns draws in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The seed of rule `index`'s stream (murmur3's finaliser over the seed's two halves and the index). */
function streamSeed(seed: number, index: number): number {
  let h = (seed >>> 0) ^ Math.imul(Math.floor(seed / 4294967296) | 0, 0x9e3779b9) ^ Math.imul(index + 1, 0x85ebca6b);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

interface ActiveRule extends FaultRule {
  draw: () => number;
  matched: number;
  injected: Record<RuleFaultKind, number>;
}

interface ActiveConfig {
  config: FaultConfig;
  since: Date;
  downUntil: number;
  rules: ActiveRule[];
  injected: Record<FaultKind, number>;
  /** Index of the first rule matching the request, if any. */
  match(req: Request, res: Response): Promise<number | undefined>;
}

const zeroCounts = () => ({ failure: 0, latency: 0, crashAfterCommit: 0, down: 0 });

/**
 * The rules' route patterns go through an express Router, so a pattern matches exactly the
 * requests express would route to the service's route declared with that same pattern.
 */
function ruleMatcher(rules: FaultRule[]): ActiveConfig['match'] {
  const router = express.Router();
  const hits = new WeakMap<Request, number[]>();
  rules.forEach((rule, index) => {
    if (rule.route === '*') return;
    const [method, path] = rule.route.split(' ', 2) as [Method, string];
    router[method.toLowerCase() as Lowercase<Method>](path, (req, _res, next) => {
      hits.get(req)?.push(index);
      next();
    });
  });
  const wildcards = rules.flatMap((r, i) => (r.route === '*' ? [i] : []));
  return (req, res) =>
    new Promise((resolve, reject) => {
      const found: number[] = [...wildcards];
      hits.set(req, found);
      router(req, res, (err?: unknown) => {
        hits.delete(req);
        if (err) reject(err);
        else resolve(found.length > 0 ? Math.min(...found) : undefined);
      });
    });
}

/** The `METHOD /pattern` of every route declared on the app (what rules may name). */
export function declaredRoutes(app: Express): string[] {
  const routes: string[] = [];
  for (const layer of app.router.stack) {
    const route = layer.route as unknown as { path: unknown; methods: Record<string, boolean> } | undefined;
    if (!route || typeof route.path !== 'string') continue;
    for (const method of Object.keys(route.methods)) {
      if (method !== '_all') routes.push(`${method.toUpperCase()} ${route.path}`);
    }
  }
  return routes;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export interface FaultInjector {
  /** Mounted before the body parser: plays dead, delays, fails or arms a crash-after-commit. */
  gate: RequestHandler;
  /** `GET|PUT|DELETE /admin/faults`, behind the admin token. */
  admin: express.Router;
  /** Tells the injector which routes the service declared (after they were), so rules naming others are refused. */
  declareRoutes(routes: string[]): void;
}

/** The fault injection of one service app. */
export function createFaultInjector(opts: { adminToken: string; logger: Logger }): FaultInjector {
  if (opts.adminToken.length < 16) throw new Error('Fault injection needs an ADMIN_TOKEN of at least 16 characters');
  let routes: string[] = [];
  let active: ActiveConfig | undefined;

  function view(): FaultsView {
    const now = Date.now();
    return {
      config: active?.config ?? null,
      since: active?.since.toISOString() ?? null,
      downUntil: active && active.downUntil > now ? new Date(active.downUntil).toISOString() : null,
      injected: active ? { ...active.injected } : zeroCounts(),
      byRule: (active?.rules ?? []).map((r) => ({ route: r.route, matched: r.matched, injected: { ...r.injected } })),
      routes,
    };
  }

  function activate(config: FaultConfig): void {
    const unknown = config.rules.filter((r) => r.route !== '*' && !routes.includes(r.route)).map((r) => r.route);
    if (unknown.length > 0) {
      throw new AppError(400, ErrorCodes.VALIDATION_FAILED, `Not a route of this service: ${unknown.join(', ')}`, {
        unknown,
        routes,
      });
    }
    const now = Date.now();
    active = {
      config,
      since: new Date(now),
      downUntil: config.downForMs ? now + config.downForMs : 0,
      rules: config.rules.map((rule, index) => ({
        ...rule,
        draw: mulberry32(streamSeed(config.seed, index)),
        matched: 0,
        injected: { failure: 0, latency: 0, crashAfterCommit: 0 },
      })),
      injected: zeroCounts(),
      match: ruleMatcher(config.rules),
    };
    opts.logger.warn({ faults: config }, 'fault injection configured');
  }

  const gate: RequestHandler = async (req, res, next) => {
    const current = active;
    if (!current || req.path === FAULTS_PATH) {
      next();
      return;
    }
    if (Date.now() < current.downUntil) {
      current.injected.down++;
      req.socket.resetAndDestroy();
      return;
    }
    const index = await current.match(req, res);
    const rule = index === undefined ? undefined : current.rules[index];
    if (!rule) {
      next();
      return;
    }
    rule.matched++;
    // Both draws are taken for every matching request, so a rule's stream does not depend on outcomes.
    const failureDraw = rule.draw();
    const crashDraw = rule.draw();
    if (rule.latencyMs > 0) {
      rule.injected.latency++;
      current.injected.latency++;
      await sleep(rule.latencyMs);
    }
    if (failureDraw < rule.failureRate) {
      rule.injected.failure++;
      current.injected.failure++;
      res.status(503).json(errorBody(ErrorCodes.INJECTED_FAULT, `Injected failure (fault rule ${rule.route})`));
      return;
    }
    if (crashDraw < rule.crashAfterCommitRate) {
      // Only counted when it happens: the handler may reject before committing anything.
      afterCommit(res, (r) => {
        rule.injected.crashAfterCommit++;
        current.injected.crashAfterCommit++;
        r.socket.destroy();
        return true;
      });
    }
    next();
  };

  const admin = express.Router();
  // Its own token: a service caller's token does not open it (fault injection is the operator's, not a program's).
  admin.all(FAULTS_PATH, bearerAuth(opts.adminToken, 'ADMIN_TOKEN'));
  admin.get(FAULTS_PATH, (_req, res) => {
    res.json(view());
  });
  admin.put(FAULTS_PATH, (req, res) => {
    activate(parse(faultConfigSchema, jsonBody(req)));
    res.json(view());
  });
  /** Clears the configuration; answers the one it removed, with its final counters. */
  admin.delete(FAULTS_PATH, (_req, res) => {
    const removed = view();
    active = undefined;
    opts.logger.warn('fault injection cleared');
    res.json(removed);
  });

  return {
    gate,
    admin,
    declareRoutes(declared) {
      routes = declared;
    },
  };
}
