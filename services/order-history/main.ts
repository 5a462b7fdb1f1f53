import path from 'node:path';
import { runService } from '../../lib/service';
import { createOrderHistoryApp } from './app';
import { loadOrderHistoryConfig } from './config';
import { orderHistoryConsumers } from './projector';
import * as schema from './schema';

const config = loadOrderHistoryConfig();
runService({
  name: 'order-history',
  config,
  port: config.ORDER_HISTORY_PORT,
  databaseName: `${config.DB_PREFIX}order_history`,
  schema,
  migrationsFolder: path.join(__dirname, 'migrations'),
  // Everything it knows comes from these consumers (projector.ts).
  events: { consumers: orderHistoryConsumers(config.ORDER_HISTORY_CONSUMER) },
  createApp: (deps) => createOrderHistoryApp(deps),
}).catch((err) => {
  console.error(err);
  process.exit(1);
});
