/**
 * `npm run test:unit`: the suites that need no server, no database and no workflow bundle, run
 * without the global set-up (no Temporal CLI build, no MySQL, no dev server): seconds, for the
 * edit-test loop. `npm test` runs them too, with everything else. A suite belongs here only if it
 * passes with `--globalSetup= --globalTeardown=`.
 */
const base = require('./jest.config.js');

const UNIT_SUITES = [
  'activities/http-client.test.ts',
  'api/temporal-errors.test.ts',
  'api/timeout.test.ts',
  'config/temporal.test.ts',
  'harness/temporal-cluster.test.ts',
  'lib/auth/bearer-auth.test.ts',
  'lib/auth/card-token.test.ts',
  'lib/auth/service-auth.test.ts',
  'lib/http/faults.test.ts',
  'services/inventory/reservations.test.ts',
  'test/docker-compose.test.ts',
  'test/docs.test.ts',
  'test/layering.test.ts',
  'test/saga-plan.test.ts',
  'test/workflows-index.test.ts',
];

/** @type {import('jest').Config} */
module.exports = {
  ...base,
  globalSetup: undefined,
  globalTeardown: undefined,
  testMatch: UNIT_SUITES.map((s) => `<rootDir>/${s}`),
};
