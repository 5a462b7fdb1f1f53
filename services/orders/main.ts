import path from 'node:path';
import { runService } from '../../lib/service';
import { createOrdersApp } from './app';
import { loadOrdersConfig } from './config';
import { productNamesConsumer } from './product-name-copies';
import * as schema from './schema';

const config = loadOrdersConfig();
runService({
  name: 'orders',
  config,
  port: config.ORDERS_PORT,
  databaseName: `${config.DB_PREFIX}orders`,
  schema,
  migrationsFolder: path.join(__dirname, 'migrations'),
  // Publishes its events, and keeps its product-name copies from inventory's (lib/events/events.ts).
  events: { source: 'orders', consumers: [productNamesConsumer] },
  createApp: (deps) => createOrdersApp(deps),
}).catch((err) => {
  console.error(err);
  process.exit(1);
});
