import { defineConfig } from 'drizzle-kit';

export default defineConfig({
  dialect: 'mysql',
  schema: './services/payments/schema.ts',
  out: './services/payments/migrations',
});
