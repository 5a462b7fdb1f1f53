import { randomBytes } from 'node:crypto';
import type { Server } from 'node:http';
import path from 'node:path';
import type express from 'express';
import type { RowDataPacket } from 'mysql2';
import request from 'supertest';
import { dropDatabase, openDatabase, type Database } from '../../lib/db';
import { createLogger } from '../../lib/logger';
import { boundPort, closeServer, listen, type ServiceDeps } from '../../lib/service';
import { formatServiceCallers, type ServiceCaller, type ServiceCallers } from '../../lib/auth/service-auth';
import { createInventoryApp } from '../../services/inventory/app';
import * as inventorySchema from '../../services/inventory/schema';
import { createOrdersApp } from '../../services/orders/app';
import * as ordersSchema from '../../services/orders/schema';
import { createPaymentsApp } from '../../services/payments/app';
import * as paymentsSchema from '../../services/payments/schema';
import { DEFAULT_SERVED_COUNTRIES } from '../../services/shipping/config';
import { createShippingApp } from '../../services/shipping/app';
import * as shippingSchema from '../../services/shipping/schema';

export const MYSQL_URL = 'mysql://root@127.0.0.1:3306';

/** A database prefix no other suite uses, so suites can run side by side. */
export function uniquePrefix(label: string): string {
  return `t_${label.replace(/[^a-z0-9]/gi, '').slice(0, 12)}_${randomBytes(3).toString('hex')}_`;
}

export function uniqueId(label: string): string {
  return `${label}-${randomBytes(5).toString('hex')}`;
}

/**
 * The suites' service callers (fresh for each test process): the worker's activities and the
 * gateway built by the suites send these, and the suites themselves call the services as one of them.
 */
export const SERVICE_TOKENS: Record<ServiceCaller, string> = {
  worker: `test-worker-${randomBytes(12).toString('hex')}`,
  gateway: `test-gateway-${randomBytes(12).toString('hex')}`,
  operator: `test-operator-${randomBytes(12).toString('hex')}`,
};
export const TEST_CALLERS: ServiceCallers = new Map(Object.entries(SERVICE_TOKENS) as [ServiceCaller, string][]);
/** SERVICE_CALLERS as a process of the suites' stacks gets it. */
export const TEST_SERVICE_CALLERS = formatServiceCallers(SERVICE_TOKENS);

/** `Authorization` header value of a caller. */
export const authAs = (caller: ServiceCaller) => `Bearer ${SERVICE_TOKENS[caller]}`;

/**
 * A supertest agent that calls `target` (a URL or an app) as `caller`: the worker by default, which
 * may call every saga route; the catalog route (`PUT /products/:sku`) is the operator's.
 */
export function callAs(target: string | express.Express, caller: ServiceCaller = 'worker') {
  return request.agent(target).set('Authorization', authAs(caller));
}

/** One real service: its app on a real port and its real database. It can be stopped and started on the same port. */
export class RunningService<TSchema extends Record<string, unknown> = Record<string, unknown>> {
  private server: Server | undefined;
  port = 0;
  constructor(
    readonly name: string,
    readonly database: Database<TSchema>,
    readonly app: express.Express,
  ) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Calls this service over its port as `caller` (see `callAs`). */
  as(caller: ServiceCaller = 'worker') {
    return callAs(this.url, caller);
  }

  async start(): Promise<void> {
    this.server = await listen(this.app, this.port, '127.0.0.1');
    this.port = boundPort(this.server);
  }

  /** Stops answering (connections are refused) until `start()` is called again. */
  async stop(): Promise<void> {
    if (!this.server) return;
    const server = this.server;
    this.server = undefined;
    server.closeAllConnections();
    await closeServer(server);
  }

  /** Raw SQL against the service's own database, for assertions on state. */
  async query<T = RowDataPacket>(sql: string, params: unknown[] = []): Promise<T[]> {
    const [rows] = await this.database.pool.query(sql, params);
    return rows as T[];
  }
}

export interface ServiceStack {
  prefix: string;
  orders: RunningService<typeof ordersSchema>;
  inventory: RunningService<typeof inventorySchema>;
  payments: RunningService<typeof paymentsSchema>;
  shipping: RunningService<typeof shippingSchema>;
  all: RunningService[];
  urls: { orders: string; inventory: string; payments: string; shipping: string };
  stop(): Promise<void>;
}

async function startOne<TSchema extends Record<string, unknown>>(
  name: string,
  prefix: string,
  schema: TSchema,
  createApp: (deps: ServiceDeps<TSchema>) => express.Express,
  faults?: { adminToken: string },
): Promise<RunningService<TSchema>> {
  const database = await openDatabase({
    mysqlUrl: MYSQL_URL,
    name: `${prefix}${name}`,
    schema,
    migrationsFolder: path.resolve(__dirname, `../../services/${name}/migrations`),
    poolSize: 10,
  });
  const logger = createLogger(name, process.env.TEST_LOG_LEVEL ?? 'silent');
  const svc = new RunningService(
    name,
    database,
    createApp({ db: database.db, database, logger, callers: TEST_CALLERS, faults }),
  );
  await svc.start();
  return svc;
}

/**
 * Starts the four services on free ports, each with its own freshly migrated database. With
 * `faults`, each has fault injection behind that admin token (as FAULTS_ENABLED would give).
 */
export async function startServices(
  label: string,
  opts: { servedCountries?: string[]; faults?: { adminToken: string } } = {},
): Promise<ServiceStack> {
  const prefix = uniquePrefix(label);
  const [orders, inventory, payments, shipping] = await Promise.all([
    startOne('orders', prefix, ordersSchema, createOrdersApp, opts.faults),
    startOne('inventory', prefix, inventorySchema, createInventoryApp, opts.faults),
    startOne('payments', prefix, paymentsSchema, createPaymentsApp, opts.faults),
    startOne(
      'shipping',
      prefix,
      shippingSchema,
      (deps) =>
        createShippingApp({ ...deps, servedCountries: opts.servedCountries ?? DEFAULT_SERVED_COUNTRIES.split(',') }),
      opts.faults,
    ),
  ]);
  const all = [orders, inventory, payments, shipping] as RunningService[];
  return {
    prefix,
    orders,
    inventory,
    payments,
    shipping,
    all,
    get urls() {
      return { orders: orders.url, inventory: inventory.url, payments: payments.url, shipping: shipping.url };
    },
    async stop() {
      for (const s of all) {
        await s.stop();
        await s.database.close();
        await dropDatabase(MYSQL_URL, s.database.name);
      }
    },
  };
}
