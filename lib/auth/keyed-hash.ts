import { createHmac, hkdfSync } from 'node:crypto';

/**
 * Keyed digests for values that end up somewhere an attacker can read (Temporal memos, workflow and
 * order IDs): an unsalted hash of a low-entropy input (a card number, an Idempotency-Key) can be
 * reversed by trying the candidates; an HMAC under a server secret cannot be, without the secret.
 */

/** A 32-byte key for one purpose, derived from a server secret with HKDF-SHA256 (one secret, independent keys). */
export function deriveKey(secret: Buffer | string, purpose: string): Buffer {
  return Buffer.from(hkdfSync('sha256', secret, Buffer.alloc(0), `saga-orchestrator/${purpose}`, 32));
}

/** HMAC-SHA256 of `value` under `key`, hex. */
export function keyedDigest(key: Buffer, value: string): string {
  return createHmac('sha256', key).update(value).digest('hex');
}
