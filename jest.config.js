/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  transform: {
    '^.+\\.ts$': ['@swc/jest', { jsc: { parser: { syntax: 'typescript' }, target: 'es2022' } }],
  },
  testMatch: ['**/?(*.)test.ts'],
  // *.cluster.test.ts need the Temporal cluster's own parts (PostgreSQL, the built server): they run in
  // `npm run test:cluster` (TEST_TEMPORAL=cluster) only.
  testPathIgnorePatterns: [
    '/node_modules/',
    '/.data/',
    ...(process.env.TEST_TEMPORAL === 'cluster' ? [] : ['\\.cluster\\.test\\.ts$']),
  ],
  globalSetup: '<rootDir>/test/global-setup.ts',
  globalTeardown: '<rootDir>/test/global-teardown.ts',
  testTimeout: 120000,
  // Two cores: a Temporal dev server, MySQL and the services share them with the suites.
  maxWorkers: 2,
};
