import { rmSync } from 'node:fs';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { TemporalCluster } from '../harness/temporal-cluster';

export default async function globalTeardown(): Promise<void> {
  const env = (globalThis as Record<string, unknown>).__SAGA_TEST_ENV__ as TestWorkflowEnvironment | undefined;
  await env?.teardown();
  const cluster = (globalThis as Record<string, unknown>).__SAGA_TEST_CLUSTER__ as TemporalCluster | undefined;
  await cluster?.stop({ dropDatabases: true });
  const bundle = process.env.TEST_WORKFLOW_BUNDLE;
  if (bundle) rmSync(bundle, { force: true });
}
