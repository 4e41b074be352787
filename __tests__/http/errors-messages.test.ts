import { describe, expect, test } from '@jest/globals';
import { BODY_SNIPPET_LIMIT, ErrorCodes, HttpStatusError, NetworkError, RedirectError, ResumeGapError, RetryAfterError } from '../../lib/index.js';

const progress = { bytesWritten: 30, bytesSent: 20, bytesAcknowledged: 10 };

describe('an HTTP status error says what the server answered, and only what it answered', () => {
  test('without a status message or body the message is the status alone (the figures are fields)', () => {
    const error = new HttpStatusError({ statusCode: 500, body: '' }, progress);
    expect(error.message).toBe('Server answered 500');
    expect(error.code).toBe(ErrorCodes.HTTP_STATUS);
    expect(error.statusMessage).toBeUndefined();
    expect(error.sequence).toBeUndefined();
    expect(error.offset).toBeUndefined();
  });

  test('a status message, a batch sequence and a body snippet on one line', () => {
    const error = new HttpStatusError({ statusCode: 503, statusMessage: 'Service Unavailable', body: 'try\n  later' }, progress, { sequence: 4, offset: 64 });
    expect(error.message).toMatch(/^Server answered 503 Service Unavailable for batch 4: try later$/);
    expect(error.statusMessage).toBe('Service Unavailable');
    expect(error.sequence).toBe(4);
    expect(error.offset).toBe(64);
  });

  test('the body kept on the error is capped at BODY_SNIPPET_LIMIT bytes and the message at 200 characters', () => {
    const body = 'x'.repeat(BODY_SNIPPET_LIMIT * 2);
    const error = new HttpStatusError({ statusCode: 400, body }, progress);
    expect(Buffer.byteLength(error.body)).toBe(BODY_SNIPPET_LIMIT);
    expect(error.message).toContain(`${'x'.repeat(200)}…`);
  });
});

describe('a redirect error names where it points, or that it points nowhere', () => {
  test('without a Location', () => {
    const error = new RedirectError({ statusCode: 307, body: '' }, undefined, progress);
    expect(error.code).toBe(ErrorCodes.REDIRECT);
    expect(error.message).toContain('(redirect without a Location not followed: the request body cannot be replayed)');
    expect(error.location).toBeUndefined();
  });

  test('with a Location', () => {
    const error = new RedirectError({ statusCode: 308, body: '' }, 'http://127.0.0.1:1/elsewhere', progress);
    expect(error.location).toBe('http://127.0.0.1:1/elsewhere');
    expect(error.message).toContain('redirect to http://127.0.0.1:1/elsewhere not followed');
  });
});

describe('a network error keeps only the message and code of its cause', () => {
  test('a cause without a code', () => {
    const error = new NetworkError(new Error('socket hang up'), progress);
    expect(error.message).toBe('Connection failed: socket hang up');
    expect(error.causeCode).toBeUndefined();
    expect((error.cause as Error & { code?: string }).code).toBeUndefined();
  });

  test('a cause with a code and other fields', () => {
    const cause = Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET', options: { headers: { authorization: 'Bearer secret-token' } } });
    const error = new NetworkError(cause, progress);
    expect(error.causeCode).toBe('ECONNRESET');
    expect(error.message).toContain('Connection failed (ECONNRESET): read ECONNRESET');
    expect(error.cause).not.toBe(cause);
    expect(error.cause).not.toHaveProperty('options');
  });
});

describe('a Retry-After beyond the cap says both figures', () => {
  test('seconds asked for and the cap in seconds', () => {
    const error = new RetryAfterError({ statusCode: 429, body: '' }, 120, 60_000, progress);
    expect(error.code).toBe(ErrorCodes.RETRY_AFTER);
    expect(error.retryAfter).toBe(120);
    expect(error.message).toContain('with Retry-After 120s, beyond the 60s cap (retry.maxRetryAfter)');
  });
});

describe('a resume gap says on which side of the held bytes the server is', () => {
  test('behind the bytes still held', () => {
    const error = new ResumeGapError(5, 10, 20, progress);
    expect(error.code).toBe(ErrorCodes.RESUME_GAP);
    expect(error.message).toMatch(/^Server offset 5 is behind the bytes still held \[10, 20\): refusing to guess/);
    expect(error.offset).toBe(5);
    expect(error.uploadUrl).toBeUndefined();
  });

  test('ahead of the bytes sent, with the upload URL', () => {
    const error = new ResumeGapError(25, 10, 20, progress, { uploadUrl: 'http://127.0.0.1:1/files/a' });
    expect(error.message).toContain('Server offset 25 is ahead of the bytes sent [10, 20)');
    expect(error.serverOffset).toBe(25);
    expect([error.heldFrom, error.heldTo]).toEqual([10, 20]);
    expect(error.uploadUrl).toBe('http://127.0.0.1:1/files/a');
  });
});
