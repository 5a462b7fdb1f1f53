/**
 * The rules for what the services (and the API) accept as IDs and as free text, in one place.
 *
 * IDs are opaque: a small alphabet, so they are safe in paths, logs, SQL and workflow IDs, and
 * case-sensitive (the ID columns compare byte for byte).
 *
 * Free text (names, address lines) is shown to people and printed on labels. It must not hold
 * what would make it lie about itself: control characters (NUL, CR/LF that forge log lines or
 * headers, the C1 range), Unicode bidirectional controls that reorder what is displayed
 * (U+202A–U+202E embeddings and overrides, U+2066–U+2069 isolates: "Trojan Source"), or lone
 * surrogates (not Unicode at all; they break every consumer that encodes to UTF-8).
 */
import { z } from 'zod';

const ID_PATTERN = (max: number) => new RegExp(`^[A-Za-z0-9][A-Za-z0-9._-]{0,${max - 1}}$`);

/** An opaque ID: 1-`max` letters, digits, `.`, `_`, `-`, starting with a letter or a digit. */
export function idSchema(what: string, max = 64) {
  return z.string().regex(ID_PATTERN(max), `${what}: 1-${max} letters, digits, . _ - (starting with a letter or digit)`);
}

// eslint-disable-next-line no-control-regex -- matching control characters is the point
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
const BIDI_CONTROL = /[\u202a-\u202e\u2066-\u2069]/;
/** A high surrogate not followed by a low one, or a low one not preceded by a high one (UTF-16 code units). */
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** Why `s` is not acceptable free text, or undefined when it is. */
export function textProblem(s: string): string | undefined {
  if (LONE_SURROGATE.test(s)) return 'must be well-formed Unicode (no lone surrogates)';
  if (CONTROL.test(s)) return 'must not contain control characters (NUL, CR, LF, tab, C1)';
  if (BIDI_CONTROL.test(s)) return 'must not contain bidirectional controls (U+202A-U+202E, U+2066-U+2069)';
  return undefined;
}

/** Free text of `min`-`max` characters (after trimming spaces) that passes `textProblem`. */
export function safeText(min: number, max: number) {
  // Checked before trimming: a trailing CR/LF is refused, not quietly cut off.
  return z
    .string()
    .superRefine((s, ctx) => {
      const problem = textProblem(s);
      if (problem) ctx.addIssue({ code: 'custom', message: problem });
    })
    .trim()
    .min(min)
    .max(max);
}
