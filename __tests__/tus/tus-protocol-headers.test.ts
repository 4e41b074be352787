import { describe, expect, test } from '@jest/globals';
import { retryAfterMs } from '../../lib/http/status.js';
import { readTusOffset } from '../../lib/modes/tus/protocol.js';

describe('Upload-Offset and Upload-Length are read only when they are exact byte counts', () => {
  test.each<[string, Record<string, string | string[] | undefined>, unknown]>([
    ['offset and length', { 'upload-offset': '10', 'upload-length': ' 20 ' }, { offset: 10, length: 20 }],
    ['a deferred length', { 'upload-offset': '0' }, { offset: 0 }],
    ['no offset', {}, undefined],
    ['a negative offset', { 'upload-offset': '-1' }, undefined],
    ['an offset past 2^53', { 'upload-offset': '99999999999999999999' }, undefined],
    ['a repeated header', { 'upload-offset': ['1', '2'] }, undefined],
    ['a length past 2^53 is no length', { 'upload-offset': '5', 'upload-length': '99999999999999999999' }, { offset: 5 }],
  ])('%s', (_name, headers, expected) => {
    expect(readTusOffset(headers)).toEqual(expected);
  });
});

describe('Retry-After is read as seconds or an HTTP date (RFC 9110 §10.2.3)', () => {
  const now = Date.parse('Wed, 25 Nov 2026 12:00:00 GMT');

  test.each<[string, string | undefined, number | undefined]>([
    ['absent', undefined, undefined],
    ['seconds', ' 7 ', 7000],
    ['a date ahead', 'Wed, 25 Nov 2026 12:00:30 GMT', 30_000],
    ['a date past: at once', 'Wed, 25 Nov 2026 11:00:00 GMT', 0],
    ['unreadable', 'soon', undefined],
  ])('%s', (_name, value, expected) => {
    expect(retryAfterMs(value, now)).toBe(expected);
  });
});
