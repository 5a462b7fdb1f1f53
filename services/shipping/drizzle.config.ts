import { defineConfig } from 'drizzle-kit';

export default defineConfig({
  dialect: 'mysql',
  schema: './services/shipping/schema.ts',
  out: './services/shipping/migrations',
});
