import { describe, expect, test } from '@jest/globals';
import { capBody } from '../../lib/http/body-cap.js';

describe('a whole body is capped in bytes, whatever its form', () => {
  test('a text within the limit comes back as it is', () => {
    expect(capBody('héllo', 6)).toBe('héllo');
  });

  test('a text over the limit is cut in bytes, not UTF-16 units', () => {
    // 'é' is two bytes: four of them are eight bytes, and a cap of 4 keeps two.
    expect(capBody('éééé', 4)).toBe('éé');
  });

  test('a Buffer is cut the same way', () => {
    expect(capBody(Buffer.from('abcdef'), 3)).toBe('abc');
    expect(capBody(Buffer.from('ab'), 3)).toBe('ab');
  });
});
