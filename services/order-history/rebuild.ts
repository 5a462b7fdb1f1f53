/**
 * `npm run order-history:rebuild`: empties the order history and deletes its durable consumers, so
 * the service, started again, rebuilds it from the first event of each stream. Stop the service first.
 */
import path from 'node:path';
import { openDatabase } from '../../lib/db';
import { loadOrderHistoryConfig } from './config';
import { rebuildOrderHistory } from './projector';
import * as schema from './schema';

async function main(): Promise<void> {
  const config = loadOrderHistoryConfig();
  const database = await openDatabase({
    mysqlUrl: config.MYSQL_URL,
    name: `${config.DB_PREFIX}order_history`,
    schema,
    migrationsFolder: path.join(__dirname, 'migrations'),
    poolSize: 2,
  });
  try {
    const result = await rebuildOrderHistory({
      db: database.db,
      natsUrl: config.NATS_URL,
      prefix: config.ORDER_HISTORY_CONSUMER,
    });
    console.log(
      `order history emptied; consumers deleted: ${result.deletedConsumers.join(', ') || 'none'}. Start the service to rebuild it from the streams.`,
    );
  } finally {
    await database.close();
  }
}

main().catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
