// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import importX, { createNodeResolver } from 'eslint-plugin-import-x';
import { builtinModules } from 'node:module';

const nodeBuiltins = [...builtinModules, ...builtinModules.map((m) => `node:${m}`)];

// In every file: the SDK's packages only through what they export (their lib/ folders are internals
// that change between releases without notice). Each no-restricted-imports below repeats it,
// because a later config's options for a rule replace an earlier one's.
const temporalInternals = {
  group: ['@temporalio/*/lib', '@temporalio/*/lib/**'],
  message: "Import the Temporal SDK through its packages' public exports, not their lib/ internals.",
};

export default tseslint.config(
  {
    ignores: [
      'node_modules/**',
      'dist/**',
      '.data/**',
      'test-output/**',
      'eslint.config.mjs',
      'jest.config.js',
      'jest.unit.config.js',
      '.dependency-cruiser.cjs',
      '**/migrations/**',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    plugins: { 'import-x': importX },
    settings: {
      'import-x/extensions': ['.ts', '.js'],
      'import-x/parsers': { '@typescript-eslint/parser': ['.ts'] },
      'import-x/resolver-next': [createNodeResolver({ extensions: ['.ts', '.js', '.json'] })],
    },
    rules: {
      // A cycle makes load order decide what is undefined at import time; the layers stay one-way.
      'import-x/no-cycle': ['error', { ignoreExternal: true }],
      // Forgetting to await an activity, a workflow API or a query is a bug, not a style choice.
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_' },
      ],
      '@typescript-eslint/no-non-null-assertion': 'off',
      'no-restricted-imports': ['error', { patterns: [temporalInternals] }],
    },
  },
  {
    // Workflows are replayed deterministically inside Temporal's sandbox: no Node builtins, no I/O,
    // and activities/services only as types.
    files: ['workflows/**/*.ts'],
    ignores: ['workflows/**/*.test.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: nodeBuiltins.map((name) => ({
            name,
            message: 'Workflows run in the Temporal sandbox: no Node builtins.',
          })),
          patterns: [
            {
              group: [
                '../activities',
                '../activities/*',
                '../services/*',
                '../services/**',
                '../lib/*',
                '../lib/**',
                '!../lib/errors',
                '../api/*',
                '../worker/*',
              ],
              allowTypeImports: true,
              message:
                'Workflows may import activities, services and lib/ (but the pure error-code registry, lib/errors) only with `import type`.',
            },
            {
              group: ['../sagas', '../sagas/*'],
              message:
                'The saga registry imports the workflows, never the reverse: through it the workflow bundle would take zod, lib/ and every definition.',
            },
            temporalInternals,
          ],
        },
      ],
    },
  },
);
