import { describe, expect, test } from '@jest/globals';
import { contentDigestField, createDigest, digestOf, isDigestAlgorithm, parseDigestField } from '../../lib/http/digest.js';
import { errorForResponse } from '../../lib/http/responses.js';
import { DigestMismatchError, ErrorCodes, HttpStatusError } from '../../lib/errors.js';

const progress = { bytesWritten: 10, bytesSent: 10, bytesAcknowledged: 0 };

describe('RFC 9530 fields', () => {
  // RFC 9530 §2: the example content and its sha-256 and sha-512 Content-Digest.
  const content = Buffer.from('{"hello": "world"}');

  test('Content-Digest of the RFC example, sha-256 and sha-512', () => {
    expect(contentDigestField('sha-256', digestOf('sha-256', content))).toBe('sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:');
    expect(contentDigestField('sha-512', digestOf('sha-512', content))).toBe(
      'sha-512=:WZDPaVn/7XgHaAy8pmojAkGWoRx2UFChF41A2svX+TaPm+AbwAgBWnrIiYllu7BNNyealdVLvRwEmTHWXvJwew==:',
    );
  });

  test('a running hash fed in pieces gives the digest of the whole', () => {
    const running = createDigest('sha-512').update(content.subarray(0, 5)).update(content.subarray(5)).digest();
    expect(running).toEqual(digestOf('sha-512', content));
  });

  test('parse: byte sequences by key, unknown algorithms kept, other members left out', () => {
    const parsed = parseDigestField('sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:, md5=:AAAA:, foo=1');
    expect([...parsed.keys()]).toEqual(['sha-256', 'md5']);
    expect(parsed.get('sha-256')).toEqual(digestOf('sha-256', content));
    expect([...parsed.keys()].filter(isDigestAlgorithm)).toEqual(['sha-256']);
  });

  test('parse refuses what is no structured-field dictionary', () => {
    expect(() => parseDigestField('sha-256=:not base64!:')).toThrow(/ByteSequence/);
  });
});

describe('a digest mismatch answer is the error of corrupted bytes', () => {
  const url = new URL('http://127.0.0.1/upload');

  test.each([
    [400, '{"title":"Content-Digest mismatch"}'],
    [460, ''],
  ])('%i %s: DigestMismatchError, still an HttpStatusError', (statusCode, body) => {
    const error = errorForResponse({ statusCode, body }, {}, url, progress, { sequence: 2 });
    expect(error).toBeInstanceOf(DigestMismatchError);
    expect(error).toBeInstanceOf(HttpStatusError);
    expect(error.code).toBe(ErrorCodes.DIGEST_MISMATCH);
    expect(error.message).toMatch(
      new RegExp(`^Server answered ${statusCode} for batch 2 \\(the server saw corrupted bytes: their digest did not match the one sent\\)`),
    );
  });

  test('a 400 that names no digest stays a plain refusal', () => {
    const error = errorForResponse({ statusCode: 400, body: 'bad json' }, {}, url, progress);
    expect(error.code).toBe(ErrorCodes.HTTP_STATUS);
  });
});
