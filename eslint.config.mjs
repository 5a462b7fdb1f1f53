// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import { builtinModules } from 'node:module';

const nodeBuiltins = [...builtinModules, ...builtinModules.map((m) => `node:${m}`)];

export default tseslint.config(
  { ignores: ['node_modules/**', 'dist/**', '.data/**', 'test-output/**', 'eslint.config.mjs', 'jest.config.js', '**/migrations/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      // Forgetting to await an activity, a workflow API or a query is a bug, not a style choice.
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_' }],
      '@typescript-eslint/no-non-null-assertion': 'off',
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
          paths: nodeBuiltins.map((name) => ({ name, message: 'Workflows run in the Temporal sandbox: no Node builtins.' })),
          patterns: [
            {
              group: ['../activities', '../activities/*', '../services/*', '../services/**', '../lib/*', '!../lib/errors', '../api/*', '../worker/*'],
              allowTypeImports: true,
              message: 'Workflows may import activities, services and lib/ (but the pure error-code registry, lib/errors) only with `import type`.',
            },
          ],
        },
      ],
    },
  },
  {
    // Saga definitions are bundled into the workflow code with their workflows (the worker runs
    // what the registry lists): no Node builtins, and of lib/ only the pure validation rules.
    files: ['sagas/**/*.ts'],
    ignores: ['sagas/**/*.test.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: nodeBuiltins.map((name) => ({ name, message: 'Saga definitions are bundled into the Temporal sandbox: no Node builtins.' })),
          patterns: [
            {
              group: ['../activities', '../activities/*', '../services/*', '../services/**', '../api/*', '../worker/*', '../lib/*', '!../lib/text', '!../lib/countries'],
              allowTypeImports: true,
              message: 'Saga definitions are workflow code: activities, services, the API and lib/ (but text and countries) only with `import type`; Node work goes through StartContext.',
            },
          ],
        },
      ],
    },
  },
);
