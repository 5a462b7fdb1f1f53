import { z } from 'zod';

/**
 * One rule for free text that other systems display or store (names, address lines, notes):
 * no control characters (NUL, CR/LF and the rest of C0, DEL, C1), no Unicode line or paragraph
 * separators, no bidirectional embedding / override / isolate controls (they make a label read
 * differently from what it holds: "Trojan Source"), no lone surrogates (not valid UTF-16, so
 * not storable as utf8mb4 without being mangled), and no U+FFFD (what the JSON parser puts in
 * place of invalid UTF-8 bytes: the text is not what the client meant).
 */
const FORBIDDEN = /[\p{Cc}\u2028\u2029\u202a-\u202e\u2066-\u2069]/u;
/** In a `u` regex a surrogate pair is one code point, so `\p{Cs}` matches only lone surrogates. */
const LONE_SURROGATE = /\p{Cs}/u;
/** What a decoder puts in place of bytes that were not valid UTF-8: the text that arrived was not the text sent. */
const REPLACEMENT = '\ufffd';

/** Why `value` breaks the rule, or undefined when it is clean. */
export function textProblem(value: string): string | undefined {
  if (LONE_SURROGATE.test(value)) return 'contains a lone surrogate (not valid Unicode text)';
  if (value.includes(REPLACEMENT)) return 'contains U+FFFD (the body was not valid UTF-8)';
  const bad = FORBIDDEN.exec(value);
  if (bad) return `contains the control character U+${bad[0].codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`;
  return undefined;
}

/** A zod string with the rule applied (trimmed, `min`..`max` characters). */
export function safeText(min: number, max: number) {
  return z
    .string()
    .trim()
    .min(min)
    .max(max)
    .superRefine((value, ctx) => {
      const problem = textProblem(value);
      if (problem) ctx.addIssue({ code: 'custom', message: `${problem}: control, line-break and bidirectional-override characters are not allowed` });
    });
}
