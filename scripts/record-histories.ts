/**
 * `npm run histories:record`: records the workflow histories the replay suite replays.
 *
 * Starts its own in-memory Temporal dev server, the four real services (real MySQL, throwaway
 * databases) and an in-process saga worker running the current workflow code, runs each
 * representative scenario, checks that it ended the way the scenario says, and writes its history
 * (the JSON `historyToJSON` and `temporal workflow show --output json` write) to
 * `test/replay/histories/<scenario>.json`. A run that went through a `patched()` branch is written
 * to `<scenario>--patched-<patchId>.json`, so recording after a versioned change adds fixtures for
 * the new path and keeps those of the old one.
 *
 * Existing fixtures are kept (they stand for histories that may be in flight in production); pass
 * `--overwrite` to replace them, `--only <scenario>[,<scenario>]` to record some scenarios.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import type { WorkflowHandle } from '@temporalio/client';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { createSagaWorker } from '../worker/create-worker';
import { DEV_SERVER_DYNAMIC_CONFIG_ARGS, SAGA_SEARCH_ATTRIBUTES } from '../shared/search-attributes';
import type { SagaState, SagaStatus } from '../shared/saga-types';
import { placeOrderWorkflowId, renameProductWorkflowId } from '../shared/saga-names';
import type { PlaceOrderInput } from '../workflows/place-order';
import type { RenameProductInput } from '../workflows/rename-product';
import type { SagaRunOptions } from '../workflows/options';
import { SERVICE_TOKENS, startServices, uniqueId, type ServiceStack } from '../test/support/services';
import { FAST, finalState, waitForState } from '../test/support/temporal';
import { ADDRESS, DECLINED_CARD, GOOD_CARD, TEST_CARD_KEY, orderInput, putProduct } from '../test/support/fixtures';
import { HISTORIES_DIR, activitiesIn, cardNumbersIn, fixtureName, historyToJson, patchesIn } from '../test/replay/fixture-files';

const root = path.resolve(__dirname, '..');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Ctx {
  stack: ServiceStack;
  startPlaceOrder(input: PlaceOrderInput): Promise<WorkflowHandle>;
  startRename(input: RenameProductInput): Promise<WorkflowHandle>;
}

interface Scenario {
  name: string;
  /** The status the run must end in; otherwise its history would not show the scenario's path. */
  ends: SagaStatus;
  /** Starts the saga, drives it (outages, signals, cancellation) and returns its handle. */
  run(ctx: Ctx): Promise<WorkflowHandle>;
}

/** Forward steps that retry until the service is back (outage scenarios). */
const UNTIL_BACK: SagaRunOptions = { ...FAST, stepRetry: { initialIntervalMs: 200, maximumIntervalMs: 400, maximumAttempts: 0 } };
/** Forward steps and compensations that give up after two attempts (STUCK scenarios). */
const GIVE_UP_FAST: SagaRunOptions = {
  ...FAST,
  stepRetry: { initialIntervalMs: 100, maximumIntervalMs: 200, maximumAttempts: 2 },
  compensationRetry: { initialIntervalMs: 100, maximumIntervalMs: 200, maximumAttempts: 2 },
};
const RENAME_OPTIONS: SagaRunOptions = { ...FAST, retriableRetry: { initialIntervalMs: 200, maximumIntervalMs: 400, maximumAttempts: 0 } };

async function confirmedOrder(ctx: Ctx, sku: string): Promise<void> {
  const handle = await ctx.startPlaceOrder(orderInput(sku, { options: FAST }));
  await handle.result();
}

async function shippingDownUntilStuck(ctx: Ctx): Promise<WorkflowHandle> {
  const sku = await putProduct(ctx.stack, { available: 5 });
  await ctx.stack.shipping.stop();
  const handle = await ctx.startPlaceOrder(orderInput(sku, { options: GIVE_UP_FAST }));
  await waitForState(handle, (s) => s.status === 'STUCK');
  return handle;
}

export const SCENARIOS: Scenario[] = [
  {
    name: 'place-order-completed',
    ends: 'COMPLETED',
    async run(ctx) {
      const sku = await putProduct(ctx.stack, { available: 10, name: 'Teapot' });
      return ctx.startPlaceOrder(orderInput(sku, { options: FAST }));
    },
  },
  // Local-activity mode (SAGA_ACTIVITY_MODE=local, and the fastest mode): the same workflow code, whose
  // history holds markers instead of activity events; replay checks those against the code too.
  {
    name: 'place-order-local-completed',
    ends: 'COMPLETED',
    async run(ctx) {
      const sku = await putProduct(ctx.stack, { available: 10, name: 'Kettle' });
      return ctx.startPlaceOrder(orderInput(sku, { options: { ...FAST, activityMode: 'local' } }));
    },
  },
  {
    name: 'place-order-local-card-declined-compensated',
    ends: 'COMPENSATED',
    async run(ctx) {
      const sku = await putProduct(ctx.stack, { available: 5 });
      return ctx.startPlaceOrder(orderInput(sku, { options: { ...FAST, activityMode: 'local' }, cardNumber: DECLINED_CARD }));
    },
  },
  {
    name: 'place-order-insufficient-stock-compensated',
    ends: 'COMPENSATED',
    async run(ctx) {
      const sku = await putProduct(ctx.stack, { available: 1 });
      return ctx.startPlaceOrder(orderInput(sku, { options: FAST }));
    },
  },
  {
    name: 'place-order-card-declined-compensated',
    ends: 'COMPENSATED',
    async run(ctx) {
      const sku = await putProduct(ctx.stack, { available: 5 });
      return ctx.startPlaceOrder(orderInput(sku, { options: FAST, cardNumber: DECLINED_CARD }));
    },
  },
  {
    name: 'place-order-unserviceable-address-compensated',
    ends: 'COMPENSATED',
    async run(ctx) {
      const sku = await putProduct(ctx.stack, { available: 5 });
      return ctx.startPlaceOrder(orderInput(sku, { options: FAST, shippingAddress: { ...ADDRESS, country: 'AQ' } }));
    },
  },
  {
    name: 'place-order-cancelled',
    ends: 'CANCELLED',
    async run(ctx) {
      const sku = await putProduct(ctx.stack, { available: 5 });
      await ctx.stack.payments.stop();
      const handle = await ctx.startPlaceOrder(orderInput(sku, { options: UNTIL_BACK }));
      // Cancel while the charge retries against the stopped service, once every other step settled.
      await waitForState(handle, (s) => s.steps.some((st) => st.name === 'chargePayment') && s.steps.every((st) => st.name === 'chargePayment' || st.status !== 'RUNNING'));
      await handle.cancel();
      await waitForState(handle, (s) => s.status === 'COMPENSATING');
      await ctx.stack.payments.start();
      return handle;
    },
  },
  {
    name: 'place-order-payments-outage-healed',
    ends: 'COMPLETED',
    async run(ctx) {
      const sku = await putProduct(ctx.stack, { available: 5 });
      await ctx.stack.payments.stop();
      const handle = await ctx.startPlaceOrder(orderInput(sku, { options: UNTIL_BACK }));
      await waitForState(handle, (s) => s.steps.some((st) => st.name === 'chargePayment'));
      await sleep(2000);
      await ctx.stack.payments.start();
      return handle;
    },
  },
  {
    name: 'place-order-deadline-compensated',
    ends: 'COMPENSATED',
    async run(ctx) {
      const sku = await putProduct(ctx.stack, { available: 5 });
      await ctx.stack.shipping.stop();
      const handle = await ctx.startPlaceOrder(orderInput(sku, { options: { ...UNTIL_BACK, deadlineMs: 1500 } }));
      await waitForState(handle, (s) => s.status === 'COMPENSATING');
      await ctx.stack.shipping.start();
      return handle;
    },
  },
  {
    name: 'place-order-stuck-retried-compensated',
    ends: 'COMPENSATED',
    async run(ctx) {
      const handle = await shippingDownUntilStuck(ctx);
      await ctx.stack.shipping.start();
      await handle.signal('retryCompensation');
      return handle;
    },
  },
  {
    name: 'place-order-stuck-resolved-manually',
    ends: 'RESOLVED_MANUALLY',
    async run(ctx) {
      const handle = await shippingDownUntilStuck(ctx);
      await handle.signal('resolveManually', { note: 'carrier confirmed no shipment exists', operator: 'ops@example.com' });
      await ctx.stack.shipping.start();
      return handle;
    },
  },
  {
    name: 'rename-product-completed',
    ends: 'COMPLETED',
    async run(ctx) {
      const sku = await putProduct(ctx.stack, { available: 10, name: 'Mug' });
      await confirmedOrder(ctx, sku);
      return ctx.startRename({ sku, name: 'Mug Deluxe', options: RENAME_OPTIONS });
    },
  },
  {
    name: 'rename-product-orders-outage-converged',
    ends: 'COMPLETED',
    async run(ctx) {
      const sku = await putProduct(ctx.stack, { available: 10, name: 'Old Kettle' });
      await confirmedOrder(ctx, sku);
      await ctx.stack.orders.stop();
      const handle = await ctx.startRename({ sku, name: 'Kettle Pro', options: RENAME_OPTIONS });
      await waitForState(handle, (s) => s.steps.some((st) => st.name === 'updateOrderProductNames'));
      await sleep(2000);
      await ctx.stack.orders.start();
      return handle;
    },
  },
  {
    name: 'rename-product-rejected-reverted',
    ends: 'COMPENSATED',
    async run(ctx) {
      const sku = await putProduct(ctx.stack, { available: 10, name: 'Lamp' });
      await confirmedOrder(ctx, sku);
      // The orders service rejects names over its length limit (INVALID_PRODUCT_NAME).
      return ctx.startRename({ sku, name: 'L'.repeat(150), options: RENAME_OPTIONS });
    },
  },
];

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { only: { type: 'string' }, overwrite: { type: 'boolean', default: false } },
    strict: true,
  });
  const only = values.only?.split(',').map((s) => s.trim()).filter(Boolean);
  const unknown = only?.filter((n) => !SCENARIOS.some((s) => s.name === n)) ?? [];
  if (unknown.length > 0) {
    throw new Error(`Unknown scenario(s): ${unknown.join(', ')}. Known: ${SCENARIOS.map((s) => s.name).join(', ')}`);
  }
  const selected = only ? SCENARIOS.filter((s) => only.includes(s.name)) : SCENARIOS;

  Runtime.install({ logger: new DefaultLogger('ERROR') });
  const cli = execFileSync('bash', [path.join(root, 'scripts/temporal-cli.sh')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim();
  execFileSync('bash', [path.join(root, 'scripts/ensure-mysql.sh')], { stdio: 'inherit' });
  const env = await TestWorkflowEnvironment.createLocal({
    server: {
      executable: { type: 'existing-path', path: cli },
      searchAttributes: SAGA_SEARCH_ATTRIBUTES,
      extraArgs: DEV_SERVER_DYNAMIC_CONFIG_ARGS,
    },
  });
  let stack: ServiceStack | undefined;
  let stopWorker: (() => Promise<void>) | undefined;
  let failures = 0;
  try {
    stack = await startServices('record');
    const services = stack;
    const taskQueue = uniqueId('record-histories');
    const { worker, close } = await createSagaWorker({
      connection: env.nativeConnection,
      namespace: env.namespace ?? 'default',
      taskQueue,
      workflows: { workflowsPath: require.resolve('../workflows') },
      activities: {
        ordersUrl: services.orders.url,
        inventoryUrl: services.inventory.url,
        paymentsUrl: services.payments.url,
        shippingUrl: services.shipping.url,
        httpTimeoutMs: 1000,
        httpConnections: 16,
        serviceToken: SERVICE_TOKENS.worker,
        cardKey: TEST_CARD_KEY,
      },
    });
    const running = worker.run();
    stopWorker = async () => {
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await running;
      await close();
    };
    const ctx: Ctx = {
      stack: services,
      startPlaceOrder: (input) => env.client.workflow.start('placeOrder', { taskQueue, workflowId: placeOrderWorkflowId(input.orderId), args: [input] }),
      startRename: (input) => env.client.workflow.start('renameProduct', { taskQueue, workflowId: renameProductWorkflowId(input.sku, uniqueId('r')), args: [input] }),
    };

    mkdirSync(HISTORIES_DIR, { recursive: true });
    for (const scenario of selected) {
      const started = Date.now();
      try {
        const handle = await scenario.run(ctx);
        const state: SagaState = await finalState(handle);
        if (state.status !== scenario.ends) {
          throw new Error(`ended ${state.status}, expected ${scenario.ends} (failure: ${JSON.stringify(state.failure)})`);
        }
        const history = await handle.fetchHistory();
        const json = historyToJson(history) + '\n';
        const leaked = cardNumbersIn(json, [GOOD_CARD, DECLINED_CARD]);
        if (leaked.length > 0) throw new Error('the history holds a full card number: not written');
        const name = fixtureName(scenario.name, patchesIn(history));
        const file = path.join(HISTORIES_DIR, `${name}.json`);
        const rel = path.relative(root, file);
        const summary = `${state.status}, ${history.events?.length ?? 0} events, ${activitiesIn(history).join(' → ')}`;
        if (existsSync(file) && !values.overwrite) {
          console.log(`kept    ${rel} (exists; --overwrite replaces it) [this run: ${summary}]`);
        } else {
          writeFileSync(file, json);
          console.log(`wrote   ${rel} (${summary}) in ${Date.now() - started} ms`);
        }
      } catch (err) {
        failures++;
        console.error(`FAILED  ${scenario.name}: ${(err as Error).message}`);
      } finally {
        // A scenario that stopped a service must not leave it down for the next one.
        for (const s of services.all) {
          if (!(await isUp(s.url))) await s.start();
        }
      }
    }
  } finally {
    await stopWorker?.();
    await stack?.stop();
    await env.teardown();
  }
  if (failures > 0) {
    console.error(`${failures} scenario(s) failed`);
    process.exitCode = 1;
  }
}

async function isUp(url: string): Promise<boolean> {
  try {
    return (await fetch(`${url}/healthz`)).ok;
  } catch {
    return false;
  }
}

if (require.main === module) {
  main().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
