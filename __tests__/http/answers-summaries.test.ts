import { describe, expect, test } from '@jest/globals';
import { runInNewContext } from 'node:vm';
import { HttpStatusError, NetworkError } from '../../lib/index.js';
import { BodyCollector } from '../../lib/http/body-cap.js';
import { errorForNetwork, summarizeResponse } from '../../lib/http/responses.js';

const progress = { bytesWritten: 0, bytesSent: 0, bytesAcknowledged: 0 };

describe('a response body is kept up to its limit and no further', () => {
  test('chunks past the limit are cut, then dropped', () => {
    const body = new BodyCollector(5);
    body.add(Buffer.from('abc'));
    body.add(Buffer.from('defgh'));
    body.add(Buffer.from('ijk'));
    expect(body.text()).toBe('abcde');
  });
});

describe("an answer's summary keeps the status, the message when there is one, and the body without credentials", () => {
  test('no status message: none on the summary', () => {
    expect(summarizeResponse({ statusCode: 500, statusMessage: '', body: 'token abcdef123 echoed' }, { credentials: ['abcdef123'] })).toEqual({
      statusCode: 500,
      body: 'token [REDACTED] echoed',
    });
  });

  test('a status message is kept', () => {
    expect(summarizeResponse({ statusCode: 404, statusMessage: 'Not Found', body: '' }, { credentials: [] })).toEqual({
      statusCode: 404,
      statusMessage: 'Not Found',
      body: '',
    });
  });
});

describe('errorForNetwork wraps what it is given in a typed error', () => {
  test('our own errors pass through unchanged', () => {
    const status = new HttpStatusError({ statusCode: 500, body: '' }, progress);
    expect(errorForNetwork(status, progress)).toBe(status);
  });

  test('a thrown non-Error becomes a NetworkError with its text', () => {
    const error = errorForNetwork('socket closed', progress, { offset: 3 });
    expect(error).toBeInstanceOf(NetworkError);
    expect(error.message).toMatch(/^Connection failed: socket closed/);
    expect(error.offset).toBe(3);
  });

  test('an error from another realm (not instanceof this Error) keeps its message and code', () => {
    // As Node's own socket errors are, seen from the vm context Jest runs tests in.
    const foreign: unknown = runInNewContext("Object.assign(new Error('write EPIPE'), { code: 'EPIPE' })");
    expect(foreign instanceof Error).toBe(false);
    const error = errorForNetwork(foreign, progress);
    expect(error).toBeInstanceOf(NetworkError);
    expect(error).toMatchObject({ causeCode: 'EPIPE', message: 'Connection failed (EPIPE): write EPIPE' });
  });
});
