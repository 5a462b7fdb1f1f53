/**
 * A closed-loop load generator: `concurrency` loops each run one order after another for a
 * warm-up, then for a measured window. Latency is start to final state of each order.
 */
import { randomUUID } from 'node:crypto';
import { Agent, request } from 'undici';
import type { WorkflowClient } from '@temporalio/client';
import { sealCardNumber } from '../lib/auth/card-token';
import { parseServerTiming } from '../lib/http/server-timing';

export type Mode = 'direct' | 'gateway' | 'saga' | 'saga-local' | 'saga-fast' | FloorMode;

/**
 * The reference floors (not in the default mode list): PlaceOrder's happy path with no saga
 * runtime, as a Go SDK worker (bench/floor-go) and as a TypeScript workflow of plain
 * `proxyActivities` calls (bench/floor-ts), each on a task queue of its own.
 */
export type FloorMode = 'floor-ts' | 'floor-go';
export const FLOOR_MODES: readonly FloorMode[] = ['floor-ts', 'floor-go'];
/** The workflow type both floor workers register (bench/floor-ts/workflows.ts, bench/floor-go/main.go). */
export const FLOOR_WORKFLOW_TYPE = 'FloorPlaceOrder';

export interface Targets {
  orders: string;
  inventory: string;
  payments: string;
  shipping: string;
  gateway?: string;
  api?: string;
  /** The API process that starts sagas in local-activity mode. */
  apiLocal?: string;
  /** The API process that hosts its worker: eager start and local activities. */
  apiFast?: string;
  token: string;
  /** The direct floor calls the services as a coordinator does: with the gateway's service token. */
  serviceToken: string;
  /**
   * The floor modes: the bench starts their workflows itself (as the API starts a saga: card number
   * sealed with the workers' key) on each floor worker's task queue and waits for the result.
   */
  floor?: { workflow: WorkflowClient; taskQueues: Partial<Record<FloorMode, string>>; cardKey: Buffer };
}

export interface RunResult {
  mode: Mode;
  concurrency: number;
  durationS: number;
  completed: number;
  errors: number;
  throughput: number;
  p50: number;
  p95: number;
  p99: number;
  mean: number;
  firstError?: string;
  /** Saga IDs of orders completed in the measured window (saga modes), for the per-leg breakdown. */
  sagaIds?: string[];
  /** The services' own handling time of each call (Server-Timing), where the benchmark made the calls (direct). */
  serviceMs?: number[];
}

/** How long a point runs: a measured window, or until `orders` completed (with `timeLimitS` as a bound). */
export interface RunLength {
  warmupS: number;
  durationS: number;
  /** Stop the measured window once this many orders completed (a slow machine cannot end with none). */
  orders?: number;
}

const ADDRESS = { name: 'Bench Marker', line1: '1 Load St', city: 'London', postalCode: 'E1', country: 'GB' };

export function orderBody(sku: string) {
  return {
    customerId: 'bench',
    items: [{ sku, quantity: 1 }],
    payment: { cardNumber: '4242424242424242' },
    shippingAddress: ADDRESS,
  };
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}

export class LoadClient {
  private readonly agent = new Agent({ connections: 256, keepAliveTimeout: 30_000, pipelining: 1 });
  constructor(private readonly targets: Targets) {}

  async close(): Promise<void> {
    await this.agent.close();
  }

  /** Server-Timing samples of the calls made after `measureFrom` (the warm-up's are not kept). */
  private serviceMs: number[] = [];
  private measureFrom = 0;

  private async call(
    method: 'POST' | 'PUT',
    url: string,
    body: unknown,
    headers: Record<string, string> = {},
  ): Promise<{ status: number; json: unknown }> {
    const res = await request(url, {
      method,
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify(body),
      dispatcher: this.agent,
      headersTimeout: 60_000,
      bodyTimeout: 60_000,
    });
    const text = await res.body.text();
    const serviceMs = parseServerTiming(res.headers['server-timing']);
    if (serviceMs !== undefined && Date.now() >= this.measureFrom) this.serviceMs.push(serviceMs);
    return { status: res.statusCode, json: text ? JSON.parse(text) : undefined };
  }

  private expect(
    what: string,
    r: { status: number; json: unknown },
    ok: (r: { status: number; json: unknown }) => boolean,
  ) {
    if (!ok(r)) throw new Error(`${what}: ${r.status} ${JSON.stringify(r.json).slice(0, 200)}`);
  }

  /** The floor: the same six local transactions, called one after another by the benchmark itself. */
  private async direct(sku: string): Promise<void> {
    const t = this.targets;
    const orderId = randomUUID();
    const key = (step: string) => ({
      'idempotency-key': `bench-${orderId}:${step}`,
      authorization: `Bearer ${t.serviceToken}`,
    });
    const ok2xx = (r: { status: number }) => r.status >= 200 && r.status < 300;
    this.expect(
      'createOrder',
      await this.call(
        'POST',
        `${t.orders}/orders`,
        { orderId, customerId: 'bench', lines: [{ sku, quantity: 1 }] },
        key('createOrder'),
      ),
      ok2xx,
    );
    const reserve = await this.call(
      'POST',
      `${t.inventory}/reservations`,
      { orderId, lines: [{ sku, quantity: 1 }] },
      key('reserveStock'),
    );
    this.expect('reserveStock', reserve, ok2xx);
    const reservation = reserve.json as {
      totalCents: number;
      lines: { sku: string; productName: string; nameVersion: number; unitPriceCents: number }[];
    };
    this.expect(
      'chargePayment',
      await this.call(
        'POST',
        `${t.payments}/charges`,
        { orderId, amountCents: reservation.totalCents, cardNumber: '4242424242424242' },
        key('chargePayment'),
      ),
      ok2xx,
    );
    this.expect(
      'scheduleShipment',
      await this.call('POST', `${t.shipping}/shipments`, { orderId, address: ADDRESS }, key('scheduleShipment')),
      ok2xx,
    );
    this.expect(
      'confirmOrder',
      await this.call(
        'POST',
        `${t.orders}/orders/${orderId}/confirm`,
        {
          lines: reservation.lines.map((l) => ({
            sku: l.sku,
            productName: l.productName,
            nameVersion: l.nameVersion,
            unitPriceCents: l.unitPriceCents,
          })),
        },
        key('confirmOrder'),
      ),
      ok2xx,
    );
    this.expect(
      'commitStock',
      await this.call('POST', `${t.inventory}/reservations/${orderId}/commit`, {}, key('commitStock')),
      ok2xx,
    );
  }

  /**
   * A floor order: PlaceOrder's input, started on the floor worker's task queue; workflow completion
   * is the end. Its workflow ID, so the bench reads its history like a saga's (events, workflow tasks).
   */
  private async floorOrder(mode: FloorMode, sku: string): Promise<string> {
    const floor = this.targets.floor;
    const taskQueue = floor?.taskQueues[mode];
    if (!floor || !taskQueue) throw new Error(`${mode}: no floor worker in this bench run`);
    const orderId = randomUUID();
    const workflowId = `order-${orderId}`;
    const body = orderBody(sku);
    const { cardNumber } = body.payment;
    await floor.workflow.execute(FLOOR_WORKFLOW_TYPE, {
      taskQueue,
      workflowId,
      args: [
        {
          orderId,
          customerId: body.customerId,
          items: body.items,
          payment: { cardToken: sealCardNumber(cardNumber, floor.cardKey, orderId), last4: cardNumber.slice(-4) },
          shippingAddress: body.shippingAddress,
        },
      ],
    });
    return workflowId;
  }

  /**
   * One order, start to final state (the saga modes: `wait=true`), or with `wait: 'decided'` to the
   * saga's decided answer (past the pivot: COMPLETING); the saga ID for the saga modes.
   */
  async one(mode: Mode, sku: string, wait: 'true' | 'decided' = 'true'): Promise<string | undefined> {
    const auth = { authorization: `Bearer ${this.targets.token}` };
    switch (mode) {
      case 'direct':
        await this.direct(sku);
        return undefined;
      case 'gateway': {
        const r = await this.call('POST', `${this.targets.gateway}/orders`, orderBody(sku), auth);
        this.expect('gateway', r, (x) => x.status === 200 && (x.json as { status?: string }).status === 'COMPLETED');
        return;
      }
      case 'floor-ts':
      case 'floor-go':
        return this.floorOrder(mode, sku);
      case 'saga':
      case 'saga-local':
      case 'saga-fast': {
        const base =
          mode === 'saga' ? this.targets.api : mode === 'saga-local' ? this.targets.apiLocal : this.targets.apiFast;
        const r = await this.call('POST', `${base}/orders?wait=${wait}`, orderBody(sku), auth);
        const ok = wait === 'true' ? ['COMPLETED'] : ['COMPLETING', 'COMPLETED'];
        this.expect(mode, r, (x) => x.status === 200 && ok.includes(String((x.json as { status?: string }).status)));
        return (r.json as { sagaId?: string }).sagaId;
      }
    }
  }

  /**
   * Runs `concurrency` loops: `warmupS` unmeasured, then a measured window of `durationS`, or, with
   * `orders`, until that many orders completed (then `durationS` only bounds it).
   */
  async run(
    mode: Mode,
    sku: string,
    concurrency: number,
    length: RunLength,
    wait: 'true' | 'decided' = 'true',
  ): Promise<RunResult> {
    const latencies: number[] = [];
    const sagaIds: string[] = [];
    let errors = 0;
    let firstError: string | undefined;
    const warmEnd = Date.now() + length.warmupS * 1000;
    let end = warmEnd + length.durationS * 1000;
    this.measureFrom = warmEnd;
    this.serviceMs = [];
    const done = () => Date.now() >= end || (length.orders !== undefined && latencies.length >= length.orders);
    const loop = async () => {
      while (!done()) {
        const started = Date.now();
        try {
          const sagaId = await this.one(mode, sku, wait);
          // only orders that start and finish inside the measured window count
          const finished = Date.now();
          if (started >= warmEnd && finished <= end) {
            latencies.push(finished - started);
            if (sagaId) sagaIds.push(sagaId);
            if (length.orders !== undefined && latencies.length >= length.orders) end = Math.min(end, finished);
          }
        } catch (err) {
          if (started >= warmEnd && Date.now() <= end) {
            errors++;
            firstError ??= err instanceof Error ? err.message : String(err);
          }
        }
      }
    };
    await Promise.all(Array.from({ length: concurrency }, loop));
    const windowS = Math.max(0.001, (Math.min(end, Date.now()) - warmEnd) / 1000);
    const sorted = [...latencies].sort((a, b) => a - b);
    const sum = sorted.reduce((s, x) => s + x, 0);
    const serviceMs = this.serviceMs;
    this.serviceMs = [];
    return {
      mode,
      concurrency,
      durationS: Math.round(windowS * 100) / 100,
      completed: sorted.length,
      errors,
      throughput: sorted.length / windowS,
      p50: percentile(sorted, 50),
      p95: percentile(sorted, 95),
      p99: percentile(sorted, 99),
      mean: sorted.length ? sum / sorted.length : 0,
      ...(firstError ? { firstError } : {}),
      ...(sagaIds.length > 0 ? { sagaIds } : {}),
      ...(mode === 'direct' && serviceMs.length > 0 ? { serviceMs } : {}),
    };
  }
}
