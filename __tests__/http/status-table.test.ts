import { describe, expect, test } from '@jest/globals';
import {
  asksToSplit,
  isOverload,
  loadSignal,
  mayBlameBatch,
  refusesBatch,
  retriedStatuses,
  saysDigestMismatch,
  saysUnsupported,
} from '../../lib/http/status.js';

describe('one table says what a status means', () => {
  test('retried by default: the statuses after which the same request may succeed later', () => {
    expect(retriedStatuses()).toEqual([408, 409, 423, 425, 429, 500, 502, 503, 504]);
  });

  test.each([
    [200, 'ok'],
    [204, 'ok'],
    [429, 'overload'],
    [503, 'overload'],
    [408, 'failure'],
    [500, 'failure'],
    [502, 'failure'],
    [504, 'failure'],
    [409, 'neutral'],
    [413, 'neutral'],
    [302, 'neutral'],
    [404, 'neutral'],
  ])('%i says %s about load', (status, signal) => {
    expect(loadSignal(status)).toBe(signal);
  });

  test('only explicit refusals are overload, and no status at all is none', () => {
    expect([429, 503].every(isOverload)).toBe(true);
    expect([408, 500, 413, undefined].some(isOverload)).toBe(false);
  });

  test('only 413 asks for a smaller request', () => {
    expect(asksToSplit(413)).toBe(true);
    expect([400, 414, 431, 500, undefined].some(asksToSplit)).toBe(false);
  });

  test('405 and 501 say the request is not offered (an optional operation is absent), and neither is retried', () => {
    expect([405, 501].every(saysUnsupported)).toBe(true);
    expect([400, 404, 500, 503, undefined].some(saysUnsupported)).toBe(false);
    expect(retriedStatuses()).not.toContain(405);
    expect(retriedStatuses()).not.toContain(501);
    // A 405 of a batch is still counted against it, as any 4xx neither retried nor refusing the request.
    expect(mayBlameBatch(405)).toBe(true);
  });

  test('a batch is refused for what it is by 400, 413, 415, 422; 401/403/404 refuse the request, not the batch', () => {
    expect([400, 413, 415, 422].every(refusesBatch)).toBe(true);
    expect([401, 403, 404, 429, 500].some(refusesBatch)).toBe(false);
  });
});

describe('a digest mismatch is a corrupted transfer', () => {
  test.each([
    [460, '', true],
    [400, 'Content-Digest sha-256 does not match the content', true],
    [400, '<Error><Code>BadDigest</Code></Error>', true],
    [400, '<Error><Code>Md5Mismatch</Code></Error>', true],
    [400, '<Error><Code>Crc64Mismatch</Code></Error>', true],
    [400, 'XAmzContentSHA256Mismatch', true],
    [400, 'bad json on line 3', false],
    [422, 'digest', false],
    [undefined, 'digest mismatch', false],
  ])('%s %j → %s', (statusCode, body, expected) => {
    expect(saysDigestMismatch(statusCode, body)).toBe(expected);
  });
});

test('a digest mismatch is never counted against the batch (its bytes on disk are good)', () => {
  expect(mayBlameBatch(400, 'bad json')).toBe(true);
  expect(mayBlameBatch(400, 'Content-Digest does not match')).toBe(false);
  expect(mayBlameBatch(460)).toBe(false);
  expect(mayBlameBatch(500)).toBe(true);
});
