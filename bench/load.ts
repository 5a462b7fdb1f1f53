/**
 * A closed-loop load generator: `concurrency` loops each run one order after another for a
 * warm-up, then for a measured window. Latency is start to final state of each order.
 */
import { randomUUID } from 'node:crypto';
import { Agent, request } from 'undici';

export type Mode = 'direct' | 'gateway' | 'saga' | 'saga-local';

export interface Targets {
  orders: string;
  inventory: string;
  payments: string;
  shipping: string;
  gateway?: string;
  api?: string;
  /** The API process that starts sagas in local-activity mode. */
  apiLocal?: string;
  token: string;
  /** The direct floor calls the services as a coordinator does: with the gateway's service token. */
  serviceToken: string;
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
}

const ADDRESS = { name: 'Bench Marker', line1: '1 Load St', city: 'London', postalCode: 'E1', country: 'GB' };

export function orderBody(sku: string) {
  return { customerId: 'bench', items: [{ sku, quantity: 1 }], payment: { cardNumber: '4242424242424242' }, shippingAddress: ADDRESS };
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

  private async call(method: 'POST' | 'PUT', url: string, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; json: unknown }> {
    const res = await request(url, {
      method,
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify(body),
      dispatcher: this.agent,
      headersTimeout: 60_000,
      bodyTimeout: 60_000,
    });
    const text = await res.body.text();
    return { status: res.statusCode, json: text ? JSON.parse(text) : undefined };
  }

  private expect(what: string, r: { status: number; json: unknown }, ok: (r: { status: number; json: unknown }) => boolean) {
    if (!ok(r)) throw new Error(`${what}: ${r.status} ${JSON.stringify(r.json).slice(0, 200)}`);
  }

  /** The floor: the same six local transactions, called one after another by the benchmark itself. */
  private async direct(sku: string): Promise<void> {
    const t = this.targets;
    const orderId = randomUUID();
    const key = (step: string) => ({ 'idempotency-key': `bench-${orderId}:${step}`, authorization: `Bearer ${t.serviceToken}` });
    const ok2xx = (r: { status: number }) => r.status >= 200 && r.status < 300;
    this.expect('createOrder', await this.call('POST', `${t.orders}/orders`, { orderId, customerId: 'bench', lines: [{ sku, quantity: 1 }] }, key('createOrder')), ok2xx);
    const reserve = await this.call('POST', `${t.inventory}/reservations`, { orderId, lines: [{ sku, quantity: 1 }] }, key('reserveStock'));
    this.expect('reserveStock', reserve, ok2xx);
    const reservation = reserve.json as { totalCents: number; lines: { sku: string; productName: string; nameVersion: number; unitPriceCents: number }[] };
    this.expect('chargePayment', await this.call('POST', `${t.payments}/charges`, { orderId, amountCents: reservation.totalCents, cardNumber: '4242424242424242' }, key('chargePayment')), ok2xx);
    this.expect('scheduleShipment', await this.call('POST', `${t.shipping}/shipments`, { orderId, address: ADDRESS }, key('scheduleShipment')), ok2xx);
    this.expect(
      'confirmOrder',
      await this.call(
        'POST',
        `${t.orders}/orders/${orderId}/confirm`,
        { lines: reservation.lines.map((l) => ({ sku: l.sku, productName: l.productName, nameVersion: l.nameVersion, unitPriceCents: l.unitPriceCents })) },
        key('confirmOrder'),
      ),
      ok2xx,
    );
    this.expect('commitStock', await this.call('POST', `${t.inventory}/reservations/${orderId}/commit`, {}, key('commitStock')), ok2xx);
  }

  async one(mode: Mode, sku: string): Promise<void> {
    const auth = { authorization: `Bearer ${this.targets.token}` };
    switch (mode) {
      case 'direct':
        return this.direct(sku);
      case 'gateway': {
        const r = await this.call('POST', `${this.targets.gateway}/orders`, orderBody(sku), auth);
        this.expect('gateway', r, (x) => x.status === 200 && (x.json as { status?: string }).status === 'COMPLETED');
        return;
      }
      case 'saga':
      case 'saga-local': {
        const base = mode === 'saga' ? this.targets.api : this.targets.apiLocal;
        const r = await this.call('POST', `${base}/orders?wait=true`, orderBody(sku), auth);
        this.expect(mode, r, (x) => x.status === 200 && (x.json as { status?: string }).status === 'COMPLETED');
        return;
      }
    }
  }

  /** Runs `concurrency` loops: `warmupS` unmeasured, then `durationS` measured. */
  async run(mode: Mode, sku: string, concurrency: number, warmupS: number, durationS: number): Promise<RunResult> {
    const latencies: number[] = [];
    let errors = 0;
    let firstError: string | undefined;
    const warmEnd = Date.now() + warmupS * 1000;
    const end = warmEnd + durationS * 1000;
    const loop = async () => {
      while (Date.now() < end) {
        const started = Date.now();
        try {
          await this.one(mode, sku);
          // only orders that start and finish inside the measured window count
          const finished = Date.now();
          if (started >= warmEnd && finished <= end) latencies.push(finished - started);
        } catch (err) {
          if (started >= warmEnd && Date.now() <= end) {
            errors++;
            firstError ??= err instanceof Error ? err.message : String(err);
          }
        }
      }
    };
    await Promise.all(Array.from({ length: concurrency }, loop));
    const sorted = [...latencies].sort((a, b) => a - b);
    const sum = sorted.reduce((s, x) => s + x, 0);
    return {
      mode,
      concurrency,
      durationS,
      completed: sorted.length,
      errors,
      throughput: sorted.length / durationS,
      p50: percentile(sorted, 50),
      p95: percentile(sorted, 95),
      p99: percentile(sorted, 99),
      mean: sorted.length ? sum / sorted.length : 0,
      ...(firstError ? { firstError } : {}),
    };
  }
}
