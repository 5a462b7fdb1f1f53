import path from 'node:path';
import { runService } from '../../lib/service';
import { createShippingApp } from './app';
import { loadShippingConfig } from './config';
import * as schema from './schema';

const config = loadShippingConfig();
runService({
  name: 'shipping',
  config,
  port: config.SHIPPING_PORT,
  databaseName: `${config.DB_PREFIX}shipping`,
  schema,
  migrationsFolder: path.join(__dirname, 'migrations'),
  // Publishes its events through its outbox (lib/events/events.ts).
  events: { source: 'shipping' },
  createApp: (deps, cfg) => createShippingApp({ ...deps, servedCountries: cfg.SHIPPING_SERVED_COUNTRIES }),
}).catch((err) => {
  console.error(err);
  process.exit(1);
});
