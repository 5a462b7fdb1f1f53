import { openCardNumber, parseCardKey, sealCardNumber } from './card-token';

const key = Buffer.alloc(32, 3);

describe('card tokens', () => {
  test('when a card number is sealed for an order, then only that key and that order open it', () => {
    const token = sealCardNumber('4242424242424242', key, 'order-1');
    expect(token).not.toContain('4242424242424242');
    expect(token.startsWith('v1.')).toBe(true);
    expect(openCardNumber(token, key, 'order-1')).toBe('4242424242424242');
    expect(() => openCardNumber(token, key, 'order-2')).toThrow();
    expect(() => openCardNumber(token, Buffer.alloc(32, 4), 'order-1')).toThrow();
    // one flipped bit in the ciphertext fails authentication
    const [v, iv, ct, tag] = token.split('.');
    const flipped = Buffer.from(ct!, 'base64url');
    flipped[0] = flipped[0]! ^ 1;
    expect(() => openCardNumber([v, iv, flipped.toString('base64url'), tag].join('.'), key, 'order-1')).toThrow();
    expect(() => openCardNumber('4242424242424242', key, 'order-1')).toThrow('not a card token');
  });

  test('when the same number is sealed twice, then the tokens differ (random IV)', () => {
    expect(sealCardNumber('4242424242424242', key, 'o')).not.toBe(sealCardNumber('4242424242424242', key, 'o'));
  });

  test('when a key is not 32 bytes of base64, then it is refused', () => {
    expect(parseCardKey(key.toString('base64'))).toEqual(key);
    expect(() => parseCardKey(Buffer.alloc(16).toString('base64'))).toThrow('32 bytes');
  });
});
