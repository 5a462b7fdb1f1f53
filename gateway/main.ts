/**
 * The gateway coordinator process (the baseline the sagas replace): reads its config, listens,
 * and shuts down gracefully on SIGINT/SIGTERM (server.close lets in-flight orders finish →
 * HTTP pool close → forced exit after a timeout). Whatever an order had done when the process
 * dies stays done: nothing resumes it.
 */
import { loadGatewayConfig } from '../config/gateway';
import { createLogger } from '../lib/logger';
import { boundPort, stopGracefully } from '../lib/service';
import { listenWithJsonErrors } from '../lib/http/http-guards';
import { createGatewayApp } from './app';
import { OrderCoordinator } from './coordinator';

async function main(): Promise<void> {
  const config = loadGatewayConfig();
  const logger = createLogger('gateway', config.LOG_LEVEL);
  const coordinator = new OrderCoordinator({
    urls: {
      orders: config.ORDERS_URL,
      inventory: config.INVENTORY_URL,
      payments: config.PAYMENTS_URL,
      shipping: config.SHIPPING_URL,
    },
    httpTimeoutMs: config.HTTP_TIMEOUT_MS,
    httpConnections: config.HTTP_CONNECTIONS,
    serviceToken: config.SERVICE_TOKEN,
    logger,
  });
  const app = createGatewayApp({ coordinator, logger, apiToken: config.API_TOKEN });
  const server = await listenWithJsonErrors(app, config.GATEWAY_PORT, config.BIND_HOST);
  logger.info(
    { url: `http://${config.BIND_HOST}:${boundPort(server)}`, timeoutMs: config.HTTP_TIMEOUT_MS },
    'gateway listening',
  );
  stopGracefully(logger, server, () => coordinator.close());
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
