import { describe, expect, test } from '@jest/globals';
import { printable } from '../../cli/printable.js';

describe('printable: what bhw prints of a value a client sent', () => {
  test('ordinary text, accents and emoji included, is unchanged', () => {
    expect(printable('report-été 2024 📦.txt')).toBe('report-été 2024 📦.txt');
  });

  test('line breaks, terminal escapes, C1 controls and bidi overrides are escaped, and so is the backslash', () => {
    expect(printable('a\nb\r\tc\x1b[31m\x00\x7f\x9b\u2028\u202e\\x1b')).toBe('a\\nb\\r\\tc\\x1b[31m\\x00\\x7f\\x9b\\u2028\\u202e\\\\x1b');
  });
});
