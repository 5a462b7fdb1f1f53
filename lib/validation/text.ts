/**
 * The rules for what the services and the API accept as IDs and as free text, in one place.
 *
 * IDs are opaque: a small alphabet, so they are safe in paths, logs, SQL and workflow IDs, and
 * case-sensitive (the ID columns compare byte for byte).
 *
 * Free text (names, address lines, notes) is shown to people, printed on labels and stored by
 * other systems. It must not hold what would make it lie about itself: control characters (NUL,
 * CR/LF that forge log lines or headers, the rest of C0, DEL, C1), Unicode line and paragraph
 * separators, bidirectional embedding / override / isolate controls that reorder what is
 * displayed (U+202A–U+202E, U+2066–U+2069: "Trojan Source"), lone surrogates (not Unicode at all;
 * not storable as utf8mb4 without being mangled), or U+FFFD (what the JSON parser puts in place of
 * bytes that were not valid UTF-8: the text that arrived is not the text the client sent).
 */
import { z } from 'zod';

/** The characters of an opaque ID (a saga ID is a prefix and such characters too). */
export const ID_CHARACTERS = 'A-Za-z0-9._-';
const ID_PATTERN = (max: number) => new RegExp(`^[A-Za-z0-9][${ID_CHARACTERS}]{0,${max - 1}}$`);

/** An opaque ID: 1-`max` letters, digits, `.`, `_`, `-`, starting with a letter or a digit. */
export function idSchema(what: string, max = 64) {
  return z
    .string()
    .regex(ID_PATTERN(max), `${what}: 1-${max} letters, digits, . _ - (starting with a letter or digit)`);
}

/**
 * An `Idempotency-Key` (services, API, gateway): 1-200 printable ASCII characters, no spaces. Keys
 * are stored and compared byte for byte (the services' `idem_key` column is 200 bytes).
 */
export const idempotencyKeySchema = z.string().regex(/^[\x21-\x7e]{1,200}$/, '1-200 printable ASCII characters');

const FORBIDDEN = /[\p{Cc}\u2028\u2029\u202a-\u202e\u2066-\u2069]/u;
/** In a `u` regex a surrogate pair is one code point, so `\p{Cs}` matches only lone surrogates. */
const LONE_SURROGATE = /\p{Cs}/u;
const REPLACEMENT = '\ufffd';

/** Why `value` is not acceptable free text, or undefined when it is. */
export function textProblem(value: string): string | undefined {
  if (LONE_SURROGATE.test(value)) return 'must be well-formed Unicode (no lone surrogates)';
  if (value.includes(REPLACEMENT)) return 'contains U+FFFD (the body was not valid UTF-8)';
  const bad = FORBIDDEN.exec(value);
  if (bad) {
    const code = `U+${bad[0].codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`;
    return `must not contain control, line-break or bidirectional-override characters (found ${code})`;
  }
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
