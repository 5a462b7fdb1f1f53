// @ts-check
/**
 * The layering, as a rule the build checks (`npm run lint:deps`, part of `npm run lint`): which
 * top-level folder may import which. README's "Layout" lists the same folders; test/layering.test.ts
 * checks that both name every tracked top-level folder.
 *
 * Test files (`*.test.ts`, in any folder) may import anything and nothing imports them; every other
 * module follows its folder's line in LAYERS, type-only imports included. The map must stay
 * acyclic (this file refuses to load otherwise), so no two folders ever depend on each other.
 */

/**
 * Folder -> the other top-level folders its (non-test) modules may import. npm packages and Node
 * builtins are allowed here; the sandbox rules below narrow them for workflows/ and shared/.
 * @type {Record<string, string[]>}
 */
const LAYERS = {
  // What the workflow bundle is made of: workflows/ and shared/ (and lib/errors.ts, below).
  shared: [],
  lib: [],
  // activities/ and services/ only as types (the workflow-sandbox rule below).
  workflows: ['shared', 'lib', 'activities', 'services'],
  // The services and what calls them.
  services: ['lib'],
  activities: ['lib', 'services', 'shared'],
  config: ['lib', 'shared'],
  // The saga registry imports the workflows, never the reverse.
  sagas: ['lib', 'shared', 'workflows'],
  worker: ['activities', 'config', 'lib', 'shared'],
  audit: ['config', 'lib', 'services'],
  // The composition roots. Nothing but test code imports api/; the gateway (the baseline the sagas
  // are compared with) shares lib/ and the saga definitions' request contract with it, never its modules.
  api: ['audit', 'config', 'lib', 'sagas', 'shared', 'worker', 'workflows'],
  gateway: ['activities', 'config', 'lib', 'sagas', 'services', 'shared'],
  'worker.ts': ['config', 'lib', 'worker'],
  // Tooling: runs the system, never imported by it.
  harness: ['lib', 'shared'],
  test: [
    'activities',
    'api',
    'audit',
    'config',
    'gateway',
    'harness',
    'lib',
    'sagas',
    'services',
    'shared',
    'worker',
    'workflows',
  ],
  bench: ['activities', 'config', 'harness', 'lib', 'worker', 'workflows'],
  chaos: ['audit', 'harness', 'lib', 'shared'],
  scripts: ['config', 'harness', 'lib', 'sagas', 'shared', 'test', 'worker'],
  // No TypeScript: nothing imports them, and they import nothing.
  '.ci': [],
  deploy: [],
  docs: [],
};

/** Folders no production module may import: test code and the tools that run the system. */
const TOOLING = ['test', 'harness', 'bench', 'chaos', 'scripts'];
const TESTS = '\\.test\\.ts$';

const escape = (s) => s.replace(/[.]/g, '\\.');
/** The regex of a top-level folder's modules (or of the root file worker.ts itself). */
const under = (names) => `^(${names.map(escape).join('|')})${names.every((n) => n.endsWith('.ts')) ? '$' : '/'}`;
const folders = Object.keys(LAYERS).filter((f) => !f.endsWith('.ts'));

(function refuseCycles() {
  /** @type {Record<string, 'open' | 'done'>} */
  const state = {};
  const visit = (f, path) => {
    if (state[f] === 'done') return;
    if (state[f] === 'open')
      throw new Error(`.dependency-cruiser.cjs: LAYERS has a folder cycle: ${[...path, f].join(' -> ')}`);
    state[f] = 'open';
    for (const to of LAYERS[f] ?? []) {
      if (!(to in LAYERS)) throw new Error(`.dependency-cruiser.cjs: LAYERS.${f} names ${to}, which has no line`);
      visit(to, [...path, f]);
    }
    state[f] = 'done';
  };
  for (const f of Object.keys(LAYERS)) visit(f, []);
})();

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    ...Object.entries(LAYERS).map(([folder, allowed]) => ({
      name: `layer:${folder}`,
      severity: /** @type {const} */ ('error'),
      comment: `${folder}${folder.endsWith('.ts') ? '' : '/'} may import ${allowed.length ? allowed.map((a) => `${a}/`).join(', ') : 'no other folder'} (LAYERS in .dependency-cruiser.cjs).`,
      from: { path: under([folder]), pathNot: TESTS },
      to: {
        pathNot: folder.endsWith('.ts')
          ? `^node_modules/|${under(allowed)}`
          : `^node_modules/|${under([folder, ...allowed])}`,
        dependencyTypesNot: /** @type {const} */ (['core']),
      },
    })),
    {
      name: 'unlayered-folder',
      severity: 'error',
      comment: 'A module outside every folder of LAYERS: give its folder a line there (and in the README layout).',
      from: { pathNot: `${under(folders)}|${under(['worker.ts'])}` },
      to: {},
    },
    {
      name: 'production-imports-no-tooling',
      severity: 'error',
      comment: `Production code never imports ${TOOLING.map((t) => `${t}/`).join(', ')}: they run the system, the system does not run them.`,
      from: { pathNot: `${under(TOOLING)}|${TESTS}` },
      to: { path: under(TOOLING) },
    },
    {
      name: 'no-test-file-imports',
      severity: 'error',
      comment: 'Nothing imports a test file: shared test code lives in test/support/.',
      from: {},
      to: { path: TESTS },
    },
    {
      name: 'workflow-sandbox',
      severity: 'error',
      comment:
        'Workflows run in the Temporal sandbox and are bundled with everything they import: at run time only workflows/, shared/, lib/errors.ts, @temporalio/workflow and @temporalio/common (anything else as `import type`).',
      from: { path: '^workflows/', pathNot: TESTS },
      to: {
        pathNot: '^(workflows|shared)/|^lib/errors\\.ts$|^node_modules/@temporalio/(workflow|common)/',
        dependencyTypesNot: ['type-only'],
      },
    },
    {
      name: 'shared-workflow-safe',
      severity: 'error',
      comment: 'shared/ is bundled into the workflows: at run time it imports only shared/ and @temporalio/common.',
      from: { path: '^shared/', pathNot: TESTS },
      to: { pathNot: '^shared/|^node_modules/@temporalio/common/', dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'errors-stay-pure',
      severity: 'error',
      comment: 'lib/errors.ts is bundled into the workflows: it imports nothing.',
      from: { path: '^lib/errors\\.ts$' },
      to: { dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'A cycle makes load order decide what is undefined at import time.',
      from: {},
      to: { circular: true },
    },
    {
      name: 'not-to-unresolvable',
      severity: 'error',
      comment: 'An import that resolves to nothing (a typo, or a package missing from package.json).',
      from: {},
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: '^node_modules/' },
    exclude: { path: '^(\\.data|test-output|dist)/|^[^/]+\\.(mjs|cjs|js)$|/migrations/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    // package.json "exports" first, with the conditions the TypeScript build resolves.
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
      mainFields: ['module', 'main', 'types', 'typings'],
    },
  },
};
