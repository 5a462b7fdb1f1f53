/**
 * `npm run histories:record`: records the workflow histories the replay suite replays.
 *
 * Starts its own in-memory Temporal dev server, the four real services (real MySQL, throwaway
 * databases) and an in-process saga worker running the current workflow code, runs each
 * scenario of every saga in the registry (sagas/index.ts; the scenarios are in
 * test/replay/scenarios/), checks that it ended the way the scenario says, and writes its history
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
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { createSagaWorker } from '../worker/create-worker';
import { DEV_SERVER_DYNAMIC_CONFIG_ARGS, SAGA_SEARCH_ATTRIBUTES } from '../shared/search-attributes';
import type { SagaState } from '../shared/saga-types';
import { sagaByType, type SagaDefinition } from '../sagas';
import { workflowIdPolicies } from '../sagas/definition';
import { SCENARIOS as REGISTERED, type Scenario, type ScenarioContext } from '../test/replay/scenarios';
import { SERVICE_TOKENS, callAs, startServices, uniqueId, type ServiceStack } from '../test/support/services';
import { FAST, finalState, waitForState } from '../test/support/temporal';
import { ADDRESS, DECLINED_CARD, GOOD_CARD, TEST_CARD_KEY, orderInput, putProduct } from '../test/support/fixtures';
import {
  HISTORIES_DIR,
  activitiesIn,
  cardNumbersIn,
  fixtureName,
  historyToJson,
  patchesIn,
} from '../test/replay/fixture-files';

const root = path.resolve(__dirname, '..');
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Every registered saga's scenarios (test/replay/scenarios/), with the saga they belong to. */
export const SCENARIOS: (Scenario & { saga: SagaDefinition })[] = REGISTERED.map(({ saga, scenario }) => ({
  ...scenario,
  saga,
}));

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { only: { type: 'string' }, overwrite: { type: 'boolean', default: false } },
    strict: true,
  });
  const only = values.only
    ?.split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const unknown = only?.filter((n) => !SCENARIOS.some((s) => s.name === n)) ?? [];
  if (unknown.length > 0) {
    throw new Error(`Unknown scenario(s): ${unknown.join(', ')}. Known: ${SCENARIOS.map((s) => s.name).join(', ')}`);
  }
  const selected = only ? SCENARIOS.filter((s) => only.includes(s.name)) : SCENARIOS;

  Runtime.install({ logger: new DefaultLogger('ERROR') });
  const cli = execFileSync('bash', [path.join(root, 'scripts/temporal-cli.sh')], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  }).trim();
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
    const ctx: ScenarioContext = {
      start: (type, input) => {
        const saga = sagaByType(type);
        if (!saga) throw new Error(`No saga type ${type} in the registry`);
        return env.client.workflow.start(saga.workflow, {
          taskQueue,
          workflowId: saga.workflowId(input),
          args: [input],
          ...workflowIdPolicies(saga.workflowIdentity),
        });
      },
      putProduct: (opts) => putProduct(services, opts),
      service: (name) => services[name],
      callService: async (name, caller, { method, path, body }) => {
        const agent = callAs(services[name].url, caller);
        const res = await (method === 'GET'
          ? agent.get(path)
          : method === 'PUT'
            ? agent.put(path).send(body as object)
            : agent.post(path).send(body as object));
        return { status: res.status, body: res.body as unknown };
      },
      waitForState: (handle, predicate) => waitForState(handle, predicate),
      finalState,
      sleep,
      orderInput,
      cards: { good: GOOD_CARD, declined: DECLINED_CARD },
      address: ADDRESS,
      fast: FAST,
    };

    mkdirSync(HISTORIES_DIR, { recursive: true });
    for (const scenario of selected) {
      const started = Date.now();
      try {
        const handle = await scenario.run(ctx);
        const state: SagaState = await finalState(handle);
        if (state.status !== scenario.ends) {
          throw new Error(
            `ended ${state.status}, expected ${scenario.ends} (failure: ${JSON.stringify(state.failure)})`,
          );
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
