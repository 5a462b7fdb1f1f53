import { defineConfig } from 'drizzle-kit';

export default defineConfig({
  dialect: 'mysql',
  schema: './services/inventory/schema.ts',
  out: './services/inventory/migrations',
});
