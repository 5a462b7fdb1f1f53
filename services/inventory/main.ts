import path from 'node:path';
import { runService } from '../../lib/service';
import { createInventoryApp } from './app';
import { loadInventoryConfig } from './config';
import * as schema from './schema';

const config = loadInventoryConfig();
runService({
  name: 'inventory',
  config,
  port: config.INVENTORY_PORT,
  databaseName: `${config.DB_PREFIX}inventory`,
  schema,
  migrationsFolder: path.join(__dirname, 'migrations'),
  // Publishes its events through its outbox (lib/events/events.ts).
  events: { source: 'inventory' },
  createApp: (deps) => createInventoryApp(deps),
}).catch((err) => {
  console.error(err);
  process.exit(1);
});
