import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { bundleWorkflowCode } from '@temporalio/worker';
import { freePort } from '../harness/process-stack';
import { startTemporalCluster } from '../harness/temporal-cluster';
import { DEV_SERVER_DYNAMIC_CONFIG_ARGS, SAGA_SEARCH_ATTRIBUTES } from '../shared/search-attributes';
import { quietLogger } from './support/quiet-logger';

const root = path.resolve(__dirname, '..');

/**
 * Once per `jest` run: provide the Temporal CLI (built from source, cached), start one in-memory
 * dev server with the Web UI on free ports, and bundle the workflows once. Suites read the
 * address and the bundle from the environment; each uses its own task queue and databases.
 *
 * TEST_TEMPORAL=cluster (`npm run test:cluster`) targets the production shape instead: the Temporal
 * server on PostgreSQL with its standalone UI (harness/temporal-cluster.ts), on free ports, with
 * databases of this run's own (`temporal_t<pid>`, dropped at teardown).
 */
export default async function globalSetup(): Promise<void> {
  const cli = execFileSync('bash', [path.join(root, 'scripts/temporal-cli.sh')], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  }).trim();
  execFileSync('bash', [path.join(root, 'scripts/ensure-mysql.sh')], { stdio: 'inherit' });
  process.env.TEST_TEMPORAL_CLI = cli;
  await bundleWorkflows();
  const target = process.env.TEST_TEMPORAL ?? 'dev-server';
  if (target === 'cluster') {
    const cluster = await startTemporalCluster({ database: `temporal_t${process.pid}` });
    (globalThis as Record<string, unknown>).__SAGA_TEST_CLUSTER__ = cluster;
    process.env.TEST_TEMPORAL_ADDRESS = cluster.address;
    process.env.TEST_TEMPORAL_UI_URL = cluster.uiUrl;
    return;
  }
  if (target !== 'dev-server') throw new Error(`TEST_TEMPORAL must be dev-server or cluster, not ${target}`);
  const uiPort = await freePort();
  const env = await TestWorkflowEnvironment.createLocal({
    server: {
      executable: { type: 'existing-path', path: cli },
      searchAttributes: SAGA_SEARCH_ATTRIBUTES,
      ui: true,
      uiPort,
      extraArgs: DEV_SERVER_DYNAMIC_CONFIG_ARGS,
      // the suites kill services and workers on purpose: the server's warnings about it are noise
      log: { format: 'pretty', level: 'error' },
    },
  });
  (globalThis as Record<string, unknown>).__SAGA_TEST_ENV__ = env;
  process.env.TEST_TEMPORAL_ADDRESS = env.address;
  process.env.TEST_TEMPORAL_UI_URL = `http://127.0.0.1:${uiPort}`;
}

async function bundleWorkflows(): Promise<void> {
  const outDir = path.join(root, 'test-output');
  mkdirSync(outDir, { recursive: true });
  const bundle = await bundleWorkflowCode({ workflowsPath: require.resolve('../workflows'), logger: quietLogger });
  const bundlePath = path.join(outDir, `workflow-bundle-${process.pid}.js`);
  writeFileSync(bundlePath, bundle.code);
  process.env.TEST_WORKFLOW_BUNDLE = bundlePath;
}
