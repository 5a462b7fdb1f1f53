import { defineConfig } from 'drizzle-kit';

export default defineConfig({
  dialect: 'mysql',
  schema: './services/orders/schema.ts',
  out: './services/orders/migrations',
});
