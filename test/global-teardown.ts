import { rmSync } from 'node:fs';
import type { TestWorkflowEnvironment } from '@temporalio/testing';

export default async function globalTeardown(): Promise<void> {
  const env = (globalThis as Record<string, unknown>).__SAGA_TEST_ENV__ as TestWorkflowEnvironment | undefined;
  await env?.teardown();
  const bundle = process.env.TEST_WORKFLOW_BUNDLE;
  if (bundle) rmSync(bundle, { force: true });
}
