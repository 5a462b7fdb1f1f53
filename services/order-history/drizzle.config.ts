import { defineConfig } from 'drizzle-kit';

export default defineConfig({
  dialect: 'mysql',
  schema: './services/order-history/schema.ts',
  out: './services/order-history/migrations',
});
