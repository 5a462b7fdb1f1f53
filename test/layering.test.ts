/**
 * The layering, written down twice: README's "Layout" (for people) and .dependency-cruiser.cjs
 * (for `npm run lint`, which fails on an import its rules forbid). Both must name every tracked
 * top-level folder, and nothing else, so a new folder gets a line in each. No server needed.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';

const root = path.resolve(__dirname, '..');

/** The top-level folders git tracks (node_modules, .data and test-output are not). */
function trackedFolders(): string[] {
  const files = execFileSync('git', ['ls-files', '-z'], { cwd: root, encoding: 'utf8' }).split('\0').filter(Boolean);
  // A tracked file deleted in the work tree (mid-edit) does not keep its folder alive.
  const present = files.filter((f) => f.includes('/') && existsSync(path.join(root, f)));
  return [...new Set(present.map((f) => f.split('/')[0]!))].sort();
}

/** The names the README's Layout block lists (`api/`, `worker.ts`): each entry starts a line, then two spaces. */
function readmeLayout(): string[] {
  const readme = readFileSync(path.join(root, 'README.md'), 'utf8');
  const section = readme.split(/^## /m).find((s) => s.startsWith('Layout\n'));
  if (!section) throw new Error('README.md has no "## Layout" section');
  const block = /^```\n([\s\S]*?)^```$/m.exec(section)?.[1];
  if (!block) throw new Error('README.md\'s "Layout" section has no fenced block');
  return block
    .split('\n')
    .flatMap((line) => /^(\S+) {2,}\S/.exec(line)?.[1] ?? [])
    .sort();
}

/** The folders (and root files) the dependency rules give a layer: their `layer:<name>` rules. */
function ruleLayers(): string[] {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const config = require('../.dependency-cruiser.cjs') as { forbidden: { name: string }[] };
  return config.forbidden
    .map((r) => /^layer:(.+)$/.exec(r.name)?.[1])
    .filter((n): n is string => n !== undefined)
    .sort();
}

describe('the layout, in the README and in the dependency rules', () => {
  test('when the README layout is read, then it lists exactly the tracked top-level folders, and root files that exist', () => {
    const listed = readmeLayout();
    expect(listed.filter((n) => n.endsWith('/')).map((n) => n.slice(0, -1))).toEqual(trackedFolders());
    const files = listed.filter((n) => !n.endsWith('/'));
    expect(files.filter((f) => !existsSync(path.join(root, f)))).toEqual([]);
  });

  test('when the dependency rules are read, then they give a layer to exactly the README layout’s entries', () => {
    expect(ruleLayers()).toEqual(
      readmeLayout()
        .map((n) => n.replace(/\/$/, ''))
        .sort(),
    );
  });
});
