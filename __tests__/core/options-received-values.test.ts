import { describe, expect, test } from '@jest/globals';
import {
  BufferedHttpWritable,
  DEFAULT_BACKOFF_LIMIT,
  DEFAULT_MAX_RETRY_AFTER,
  DEFAULT_MAX_RETRY_TIME,
  type BufferedHttpWritableOptions,
} from '../../lib/index.js';
import { resolveOptions } from '../../lib/options/resolve.js';

const url = 'http://127.0.0.1:9/upload';

/** The TypeError a construction throws. */
function constructionError(target: unknown, options: unknown): Error {
  try {
    new BufferedHttpWritable(target as string, options as BufferedHttpWritableOptions).destroy();
  } catch (error) {
    return error as Error;
  }
  throw new Error('construction did not throw');
}

describe('a refused option names the value it received, whatever its type', () => {
  test.each<[string, unknown, unknown, RegExp]>([
    ['options null', url, null, /^options must be an object, received null$/],
    ['options a string', url, 'fast', /^options must be an object, received "fast"$/],
    ['a long string, cut at 100 characters', url, { mode: 'm'.repeat(300) }, new RegExp(`received "${'m'.repeat(100)}…"$`)],
    ['a function', url, { mode: () => 'stream' }, /^mode must be one of .*, received a function$/],
    ['an object without a prototype', url, { mode: Object.create(null) }, /received an object of type Object$/],
    ['an instance of a class', url, { mode: new Map() }, /received an object of type Map$/],
    ['a symbol', url, { mode: Symbol('tus') }, /received Symbol\(tus\)$/],
    ['a boolean', url, { highWaterMark: true }, /^highWaterMark must be a number, received boolean true$/],
    ['contentLength not a number', url, { contentLength: '10' }, /^contentLength must be a number, received "10"$/],
    ['contentLength NaN', url, { contentLength: Number.NaN }, /^contentLength must be a number, received number NaN$/],
    ['retry null', url, { mode: 'batch', retry: null }, /^retry must be an object, received null$/],
    ['retry a number', url, { mode: 'batch', retry: 3 }, /^retry must be an object, received number 3$/],
    ['headers a function', url, { headers: () => ({}) }, /^headers must be an object, received a function$/],
    ['a URL-like object that is not a string or URL', { toString: () => url }, {}, /^url must be a string or URL, received an object of type Object$/],
  ])('%s', (_name, target, options, message) => {
    const error = constructionError(target, options);
    expect(error).toBeInstanceOf(TypeError);
    expect(error.message).toMatch(message);
  });
});

describe('retry defaults stay set whatever retry object is given', () => {
  const retryOf = (options: BufferedHttpWritableOptions) => {
    const resolved = resolveOptions(url, options);
    if (resolved.mode === 'stream') throw new Error('stream mode has no retry');
    return resolved.retry;
  };

  test('no retry option: the library defaults', () => {
    expect(retryOf({ mode: 'batch' })).toMatchObject({
      limit: Number.POSITIVE_INFINITY,
      maxRetryTime: DEFAULT_MAX_RETRY_TIME,
      maxRetryAfter: DEFAULT_MAX_RETRY_AFTER,
      backoffLimit: DEFAULT_BACKOFF_LIMIT,
    });
  });

  test('fields given as undefined do not unset the defaults', () => {
    expect(retryOf({ mode: 'tus', retry: { limit: undefined, maxRetryTime: undefined, maxRetryAfter: undefined, backoffLimit: 10 } })).toMatchObject({
      limit: Number.POSITIVE_INFINITY,
      maxRetryTime: DEFAULT_MAX_RETRY_TIME,
      maxRetryAfter: DEFAULT_MAX_RETRY_AFTER,
      backoffLimit: 10,
    });
  });

  test('given values win', () => {
    expect(retryOf({ mode: 'batch', retry: { limit: 0, maxRetryAfter: 5 } })).toMatchObject({ limit: 0, maxRetryAfter: 5 });
  });

  test('a batch method left out of retry.methods is never retried', () => {
    expect(retryOf({ mode: 'batch', method: 'PATCH', retry: { methods: ['PUT'] } })).toMatchObject({ limit: 0 });
  });
});
