/**
 * Finds full card numbers (PANs) in text: the suites' own test cards wherever they appear, and any
 * run of 12–19 digits (bare, or in groups of four split by spaces or dashes) that passes the Luhn
 * check and starts like a card does (2–6: Mastercard, Amex / Diners / JCB, Visa, Mastercard,
 * Discover / UnionPay). Base64 runs (a history's payload `data` is base64 JSON) are decoded and
 * searched too, nested up to a few levels.
 */

export interface CardNumberHit {
  /** The digits found. */
  number: string;
  /** Offset in the text searched (for a hit inside base64: the offset of that base64 run). */
  index: number;
  /** `plain`, or `base64` when it was found only after decoding. */
  via: 'plain' | 'base64';
  /** Whether it is one of the suites' known test cards. */
  known: boolean;
}

/** True when `digits` passes the Luhn (mod 10) check. */
export function luhnValid(digits: string): boolean {
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let d = digits.charCodeAt(digits.length - 1 - i) - 48;
    if (i % 2 === 1) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return sum % 10 === 0;
}

/** Looks like a PAN: 12–19 digits, Luhn-valid, a first digit a card network issues (2–6). */
export function looksLikeCardNumber(digits: string): boolean {
  return /^[2-6]\d{11,18}$/.test(digits) && luhnValid(digits);
}

// A bare run not glued to other letters or digits (so not a slice of a longer number or of a hex
// ID) nor to a decimal point (the digits of a fraction), or groups of four split the same way
// throughout.
const BARE_RUN = /(?<![A-Za-z0-9]|\d\.)\d{12,19}(?![A-Za-z0-9]|\.\d)/g;
const GROUPED_RUN = /(?<![A-Za-z0-9]|\d\.)\d{4}([ -])\d{4}\1\d{4}(?:\1\d{1,7})?(?![A-Za-z0-9]|\.\d)/g;
const BASE64_RUN = /[A-Za-z0-9+/]{16,}={0,2}/g;
const MAX_DEPTH = 3;

/** Every card number in `text` (see the module's comment); `knownCards` are always reported, wherever they appear. */
export function findCardNumbers(text: string, knownCards: readonly string[], depth = 0): CardNumberHit[] {
  const hits: CardNumberHit[] = [];
  const seen = new Set<string>();
  const add = (number: string, index: number, via: CardNumberHit['via']) => {
    const key = `${number}@${index}`;
    if (seen.has(key)) return;
    seen.add(key);
    hits.push({ number, index, via, known: knownCards.includes(number) });
  };
  for (const card of knownCards) {
    for (let at = text.indexOf(card); at !== -1; at = text.indexOf(card, at + 1)) add(card, at, 'plain');
  }
  for (const m of text.matchAll(BARE_RUN)) if (looksLikeCardNumber(m[0])) add(m[0], m.index, 'plain');
  for (const m of text.matchAll(GROUPED_RUN)) {
    const digits = m[0].replace(/[ -]/g, '');
    if (looksLikeCardNumber(digits) || knownCards.includes(digits)) add(digits, m.index, 'plain');
  }
  if (depth < MAX_DEPTH) {
    for (const m of text.matchAll(BASE64_RUN)) {
      const decoded = decodeBase64Text(m[0]);
      if (decoded === undefined) continue;
      for (const hit of findCardNumbers(decoded, knownCards, depth + 1)) add(hit.number, m.index, 'base64');
    }
  }
  return hits;
}

/** The UTF-8 text a base64 run encodes, or undefined when it is not text (so binary noise is never searched). */
function decodeBase64Text(run: string): string | undefined {
  const bytes = Buffer.from(run, 'base64');
  if (bytes.length < 8) return undefined;
  const text = bytes.toString('utf8');
  // Mostly printable, and no replacement characters: text, not an encoded hash or key.
  if (text.includes('\uFFFD')) return undefined;
  let printable = 0;
  for (const ch of text) if (ch >= ' ' || ch === '\n' || ch === '\r' || ch === '\t') printable++;
  return printable / text.length > 0.9 ? text : undefined;
}
