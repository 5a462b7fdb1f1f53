import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

/**
 * Card numbers never travel through Temporal in the clear: the API seals the number with
 * AES-256-GCM (bound to the order ID) before it goes into the workflow input, so workflow
 * histories, the Web UI and replay fixtures only ever hold the token and the last four digits.
 * Only the activity that charges the card opens it, to hand it to the payments service.
 */
const VERSION = 'v1';

/** Parses a base64 key of exactly 32 bytes. */
export function parseCardKey(base64: string): Buffer {
  const key = Buffer.from(base64, 'base64');
  if (key.length !== 32) throw new Error('CARD_ENCRYPTION_KEY must be 32 bytes, base64-encoded');
  return key;
}

export function sealCardNumber(cardNumber: string, key: Buffer, orderId: string): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(Buffer.from(orderId));
  const ciphertext = Buffer.concat([cipher.update(cardNumber, 'utf8'), cipher.final()]);
  return [VERSION, iv, ciphertext, cipher.getAuthTag()]
    .map((p) => (typeof p === 'string' ? p : p.toString('base64url')))
    .join('.');
}

/** Opens a token sealed for `orderId`; throws when the key, the order or the token does not match. */
export function openCardNumber(token: string, key: Buffer, orderId: string): string {
  const [version, iv, ciphertext, tag] = token.split('.');
  if (version !== VERSION || !iv || !ciphertext || !tag) throw new Error('not a card token');
  const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'));
  decipher.setAAD(Buffer.from(orderId));
  decipher.setAuthTag(Buffer.from(tag, 'base64url'));
  return Buffer.concat([decipher.update(Buffer.from(ciphertext, 'base64url')), decipher.final()]).toString('utf8');
}
