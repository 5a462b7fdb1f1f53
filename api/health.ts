import type { Client } from '@temporalio/client';
import { withTimeout } from './timeout';

/** True when the Temporal frontend answers within `timeoutMs` (GET /healthz). */
export async function temporalReachable(client: Client, timeoutMs = 2000): Promise<boolean> {
  try {
    const info = await withTimeout(timeoutMs, (signal) =>
      client.withAbortSignal(signal, () => client.workflowService.getSystemInfo({})),
    );
    return info !== undefined;
  } catch {
    return false;
  }
}
