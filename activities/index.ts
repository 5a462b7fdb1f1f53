import { createAgent, ServiceClient } from './http-client';
import { createInventoryActivities } from './inventory';
import { createOrdersActivities } from './orders';
import { createPaymentsActivities } from './payments';
import { createShippingActivities } from './shipping';
import { createSagaRuntimeActivities } from './checkpoint';

export interface ActivitiesConfig {
  ordersUrl: string;
  inventoryUrl: string;
  paymentsUrl: string;
  shippingUrl: string;
  /** Per-call HTTP timeout (the activity's own start-to-close timeout should be larger). */
  httpTimeoutMs: number;
  /** Keep-alive connections per service. */
  httpConnections: number;
  /** The worker's bearer token for the services (SERVICE_TOKEN; each service lists it as caller `worker`). */
  serviceToken: string;
  /** Opens the sealed card numbers in workflow inputs (see lib/auth/card-token.ts). */
  cardKey: Buffer;
}

/** Builds every saga activity over one keep-alive HTTP agent. Workflows import this only as a type. */
export function createActivities(config: ActivitiesConfig) {
  const agent = createAgent({ timeoutMs: config.httpTimeoutMs, connections: config.httpConnections });
  const client = (name: string, url: string) =>
    new ServiceClient(name, url, agent, config.httpTimeoutMs, config.serviceToken);
  return {
    ...createOrdersActivities(client('orders', config.ordersUrl)),
    ...createInventoryActivities(client('inventory', config.inventoryUrl)),
    ...createPaymentsActivities(client('payments', config.paymentsUrl), config.cardKey),
    ...createShippingActivities(client('shipping', config.shippingUrl)),
    ...createSagaRuntimeActivities(),
    close: () => agent.close(),
  };
}

export type Activities = Omit<ReturnType<typeof createActivities>, 'close'>;
