import path from 'node:path';
import { runService } from '../../lib/service';
import { createPaymentsApp } from './app';
import { loadPaymentsConfig } from './config';
import * as schema from './schema';

const config = loadPaymentsConfig();
runService({
  name: 'payments',
  config,
  port: config.PAYMENTS_PORT,
  databaseName: `${config.DB_PREFIX}payments`,
  schema,
  migrationsFolder: path.join(__dirname, 'migrations'),
  // Publishes its events through its outbox (lib/events/events.ts).
  events: { source: 'payments' },
  createApp: (deps) => createPaymentsApp(deps),
}).catch((err) => {
  console.error(err);
  process.exit(1);
});
