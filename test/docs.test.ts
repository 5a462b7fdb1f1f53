/**
 * What the repository commits tells the truth about itself and leaks nothing:
 * - no committed file holds a full card number (recorded histories, docs, results, images, the
 *   README's prose…), payloads decoded: only TypeScript sources may name the public test cards they
 *   send, and the shell examples of the README and docs/*.md the ones a client would send;
 * - every committed image under docs/ says which test produced it and what that test checked in it
 *   (PNG tEXt chunks `Source` and `Checked`), and that test writes it.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { GOOD_CARD, DECLINED_CARD } from './support/fixtures';
import { findCardNumbers, looksLikeCardNumber, luhnValid, type CardNumberHit } from './support/card-numbers';
import { readPngText, withPngText } from './support/png-text';

const root = path.resolve(__dirname, '..');
const TEST_CARDS = [GOOD_CARD, DECLINED_CARD];

interface RepoFile {
  path: string;
  content: Buffer;
}

function trackedFiles(): RepoFile[] {
  const paths = execFileSync('git', ['ls-files', '-z'], { cwd: root, encoding: 'utf8' }).split('\0').filter(Boolean);
  // A tracked file deleted in the work tree (mid-edit) is not there to leak anything.
  return paths.flatMap((p) => {
    try {
      return [{ path: p, content: readFileSync(path.join(root, p)) }];
    } catch {
      return [];
    }
  });
}

/** Card numbers where they may not be: `path:line` and the number masked to its first and last four digits. */
function cardNumberLeaks(files: RepoFile[]): string[] {
  const leaks: string[] = [];
  for (const f of files) {
    // Binary files (images) are searched as Latin-1: their text chunks are plain, and digit runs
    // long enough to look like a card do not occur in compressed data.
    const text = f.content.includes(0) ? f.content.toString('latin1') : f.content.toString('utf8');
    for (const hit of findCardNumbers(text, TEST_CARDS)) {
      if (allowed(f.path, text, hit)) continue;
      const line = text.slice(0, hit.index).split('\n').length;
      leaks.push(
        `${f.path}:${line} ${hit.number.slice(0, 4)}…${hit.number.slice(-4)} (${hit.via}${hit.known ? ', a test card' : ''})`,
      );
    }
  }
  return leaks;
}

/**
 * Where a card number is an input by design, not data that leaked: TypeScript sources (the suites
 * and the load generators send public test cards; a card there inside base64 would be a pasted
 * payload, so not that), the fenced shell examples of the README and of the topic pages
 * (docs/*.md: the API's curl examples live in docs/api.md), for the test cards only, and Go
 * module checksums.
 */
function allowed(file: string, text: string, hit: CardNumberHit): boolean {
  if (file.endsWith('.ts')) return hit.via === 'plain';
  // A Go module checksum file (bench/floor-go/go.sum): pseudo-versions hold 14-digit timestamps
  // joined to commit hashes, which can pass the card check; nothing there is a payment input.
  if (path.basename(file) === 'go.sum') return hit.via === 'plain' && !hit.known;
  if (file === 'README.md' || /^docs\/[^/]+\.md$/.test(file)) {
    return hit.known && insideShellExample(text, hit.index);
  }
  return false;
}

function insideShellExample(text: string, index: number): boolean {
  const fences = [...text.slice(0, index).matchAll(/^```(\w*)$/gm)];
  const last = fences.at(-1);
  // An odd number of fences before it: it is inside a block, which the last fence opened.
  return fences.length % 2 === 1 && last?.[1] === 'bash';
}

/** What is wrong with a committed image's provenance (none: it names a test that checked and writes it). */
function provenanceProblems(file: RepoFile, tracked: RepoFile[]): string[] {
  const text = readPngText(file.content);
  const problems: string[] = [];
  const source = tracked.find((f) => f.path === text.Source);
  if (!text.Source) problems.push(`${file.path}: no Source tEXt chunk naming the test that wrote it`);
  else if (!source || !/\.test\.ts$/.test(source.path))
    problems.push(`${file.path}: Source ${JSON.stringify(text.Source)} is not a committed test file`);
  else if (!source.content.toString('utf8').includes(file.path))
    problems.push(`${file.path}: ${text.Source} does not write ${file.path}`);
  if (!text.Checked?.trim()) problems.push(`${file.path}: no Checked tEXt chunk saying what its test checked in it`);
  return problems;
}

describe('the committed files', () => {
  const files = trackedFiles();

  test('when every tracked file is searched, payloads decoded, then none holds a full card number where it may not', () => {
    expect(files.some((f) => f.path.startsWith('test/replay/histories/'))).toBe(true);
    expect(cardNumberLeaks(files)).toEqual([]);
  });

  test('when the images under docs/ are read, then each names the test that checked and wrote it', () => {
    const images = files.filter((f) => f.path.startsWith('docs/') && f.path.endsWith('.png'));
    expect(images.map((f) => f.path)).toContain('docs/temporal-ui-place-order.png');
    expect(images.flatMap((f) => provenanceProblems(f, files))).toEqual([]);
  });
});

describe('the checks themselves', () => {
  const payload = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64');
  const history = (input: unknown) =>
    Buffer.from(
      JSON.stringify({
        events: [
          {
            eventId: '1',
            workflowExecutionStartedEventAttributes: {
              input: { payloads: [{ metadata: { encoding: 'anNvbi9wbGFpbg==' }, data: payload(input) }] },
            },
          },
        ],
      }),
    );

  test('when a history fixture holds a card number inside a base64 payload, then it is a leak', () => {
    const leaks = cardNumberLeaks([
      { path: 'test/replay/histories/x.json', content: history({ payment: { cardNumber: GOOD_CARD } }) },
    ]);
    expect(leaks).toEqual(['test/replay/histories/x.json:1 4242…4242 (base64, a test card)']);
  });

  test('when the card is one no suite uses, nested in a payload within a payload, or written in groups, then it is found too', () => {
    const amex = '378282246310005';
    expect(cardNumberLeaks([{ path: 'docs/a.json', content: history({ inner: payload({ pan: amex }) }) }])).toEqual([
      'docs/a.json:1 3782…0005 (base64)',
    ]);
    expect(
      cardNumberLeaks([{ path: 'docs/b.md', content: Buffer.from('paid with\n5555 4444 3333 1111 today') }]),
    ).toEqual(['docs/b.md:2 5555…1111 (plain)']);
    expect(
      cardNumberLeaks([
        { path: 'docs/c.png', content: withPngText(tinyPng(), { Comment: `card 4000-0000-0000-0002` }) },
      ]),
    ).toHaveLength(1);
  });

  test('when digits only resemble a card (a timestamp, a fraction, a failed Luhn check, too long), then they are not reported', () => {
    expect(luhnValid('4242424242424242')).toBe(true);
    expect(looksLikeCardNumber('4242424242424241')).toBe(false);
    const text = '{"at":1763786835123,"ratio":0.4205607476635518,"id":"37828224631000512345","n":4242424242424241}';
    expect(cardNumberLeaks([{ path: 'docs/bench/r.json', content: Buffer.from(text) }])).toEqual([]);
  });

  test('when a test card is an input by design, then only TypeScript sources and the README and docs/*.md shell examples may hold it', () => {
    const readme = [
      'Send one:',
      '```bash',
      `curl -d '{"cardNumber":"${GOOD_CARD}"}'`,
      '```',
      `Prose with ${GOOD_CARD}.`,
      '```json',
      `{"cardNumber":"${GOOD_CARD}"}`,
      '```',
    ].join('\n');
    expect(cardNumberLeaks([{ path: 'README.md', content: Buffer.from(readme) }])).toEqual([
      'README.md:5 4242…4242 (plain, a test card)',
      'README.md:7 4242…4242 (plain, a test card)',
    ]);
    expect(cardNumberLeaks([{ path: 'docs/api.md', content: Buffer.from(readme) }])).toEqual([
      'docs/api.md:5 4242…4242 (plain, a test card)',
      'docs/api.md:7 4242…4242 (plain, a test card)',
    ]);
    expect(cardNumberLeaks([{ path: 'docs/bench/r.md', content: Buffer.from(readme) }])).toHaveLength(3);
    expect(cardNumberLeaks([{ path: 'test/x.test.ts', content: Buffer.from(`send('${GOOD_CARD}')`) }])).toEqual([]);
    expect(
      cardNumberLeaks([
        { path: 'test/x.test.ts', content: Buffer.from(`const recorded = '${payload({ cardNumber: GOOD_CARD })}'`) },
      ]),
    ).toHaveLength(1);
  });

  test('when an image lacks its provenance, or names a test that does not write it, then that is reported', () => {
    const test = { path: 'test/ui.test.ts', content: Buffer.from("write('docs/ui.png')") };
    const bare = { path: 'docs/ui.png', content: tinyPng() };
    expect(provenanceProblems(bare, [test])).toEqual([
      'docs/ui.png: no Source tEXt chunk naming the test that wrote it',
      'docs/ui.png: no Checked tEXt chunk saying what its test checked in it',
    ]);
    const stamped = {
      path: 'docs/ui.png',
      content: withPngText(tinyPng(), { Source: 'test/ui.test.ts', Checked: 'no card number in the page' }),
    };
    expect(provenanceProblems(stamped, [test])).toEqual([]);
    expect(provenanceProblems({ ...stamped, path: 'docs/other.png' }, [test])).toEqual([
      'docs/other.png: test/ui.test.ts does not write docs/other.png',
    ]);
    expect(provenanceProblems(stamped, [])).toEqual([
      'docs/ui.png: Source "test/ui.test.ts" is not a committed test file',
    ]);
  });
});

/** A valid 1×1 PNG (signature, IHDR, IDAT, IEND). */
function tinyPng(): Buffer {
  return Buffer.from(
    'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==',
    'base64',
  );
}
