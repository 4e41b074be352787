import { afterEach, beforeEach, describe, expect, test } from '@jest/globals';
import { once } from 'node:events';
import { BufferedHttpWritable, type BufferedHttpWritableOptions } from '../../lib/index.js';
import type { AnyModeOptions } from '../../lib/types.js';
import { startSink, type Sink } from '../helpers/sink-server.js';

const url = 'http://127.0.0.1:9/upload';

describe('bad options fail at construction, naming the option and the value', () => {
  // Any key in any mode: these are what a JavaScript caller may pass, refused at run time.
  const cases: Array<[string, unknown, AnyModeOptions | undefined, typeof TypeError | typeof RangeError, RegExp]> = [
    ['highWaterMark 0', url, { highWaterMark: 0 }, RangeError, /highWaterMark must be a positive integer, received 0/],
    ['highWaterMark negative', url, { highWaterMark: -5 }, RangeError, /highWaterMark .* received -5/],
    ['highWaterMark fractional', url, { highWaterMark: 1.5 }, RangeError, /highWaterMark .* received 1.5/],
    ['highWaterMark not a number', url, { highWaterMark: '1MiB' as unknown as number }, TypeError, /highWaterMark must be a number, received "1MiB"/],
    ['highWaterMark NaN', url, { highWaterMark: Number.NaN }, TypeError, /highWaterMark must be a number/],
    ['unknown mode', url, { mode: 'ftp' as never }, TypeError, /mode must be one of 'stream', 'batch', 'tus', 's3', 'azure-blob', received "ftp"/],
    ['unknown method', url, { method: 'GET' as never }, TypeError, /method must be one of 'POST', 'PUT', 'PATCH', received "GET"/],
    ['signal not an AbortSignal', url, { signal: {} as AbortSignal }, TypeError, /signal must be an AbortSignal, received an object of type Object/],
    ['URL not http(s)', 'ftp://example.com/x', undefined, TypeError, /url must use http: or https:, received "ftp:\/\/example.com\/x"/],
    ['URL not absolute', '/upload', undefined, TypeError, /url must be an absolute http\(s\) URL, received "\/upload"/],
    ['URL not a string', 42, undefined, TypeError, /url must be .* received number 42/],
    ['contentLength negative', url, { contentLength: -1 }, RangeError, /contentLength must be a non-negative integer, received -1/],
    ['header value not a string', url, { headers: { 'x-n': 1 as unknown as string } }, TypeError, /headers.x-n must be a string, received number 1/],
    ['got not a got instance', url, { got: {} as never }, TypeError, /got must be a got instance/],
    [
      'batch option in stream mode',
      url,
      { concurrency: 2 },
      TypeError,
      /^'concurrency' does not apply to mode 'stream' \(it applies to 'batch', 's3', 'azure-blob'\)$/,
    ],
    ['tus option in stream mode', url, { uploadUrl: url }, TypeError, /^'uploadUrl' does not apply to mode 'stream'/],
    [
      'a typo of a known option',
      url,
      { mode: 'batch', concurency: 4 } as BufferedHttpWritableOptions,
      TypeError,
      /^Unknown option 'concurency' \(did you mean 'concurrency'\?\)$/,
    ],
    ['an option no mode knows', url, { colour: 'blue' } as BufferedHttpWritableOptions, TypeError, /^Unknown option 'colour'$/],
    [
      'retry in stream mode',
      url,
      { retry: { limit: 2 } },
      TypeError,
      /^'retry' does not apply to mode 'stream' \(it applies to 'batch', 'tus', 's3', 'azure-blob'\)$/,
    ],
    [
      'a typo inside retry',
      url,
      { mode: 'batch', retry: { limt: 2 } } as BufferedHttpWritableOptions,
      TypeError,
      /^Unknown option 'retry.limt' \(did you mean 'retry.limit'\?\)$/,
    ],
    ['method in tus mode', url, { mode: 'tus', method: 'PUT' }, TypeError, /^'method' does not apply to mode 'tus'/],
    ['deleteOnAbort not a boolean', url, { mode: 'tus', deleteOnAbort: 'yes' as never }, TypeError, /^deleteOnAbort must be a boolean, received "yes"$/],
    ['expectContinueTimeout negative', url, { expectContinueTimeout: -1 }, RangeError, /^expectContinueTimeout must be a non-negative integer, received -1$/],
    [
      'expectContinueTimeout in batch mode',
      url,
      { mode: 'batch', expectContinueTimeout: 500 },
      TypeError,
      /^'expectContinueTimeout' does not apply to mode 'batch' \(it applies to 'stream', 'tus'\)$/,
    ],
    [
      'allowInsecureLocation in stream mode',
      url,
      { allowInsecureLocation: true },
      TypeError,
      /^'allowInsecureLocation' does not apply to mode 'stream' \(it applies to 'tus'\)$/,
    ],
    [
      'allowInsecureLocation not a boolean',
      url,
      { mode: 'tus', allowInsecureLocation: 1 as never },
      TypeError,
      /^allowInsecureLocation must be a boolean, received number 1$/,
    ],
    ['resumeFrom in stream mode', url, { resumeFrom: { offset: 0 } }, TypeError, /^'resumeFrom' does not apply to mode 'stream' \(it applies to 'tus'\)$/],
    ['resumeFrom without uploadUrl', url, { mode: 'tus', resumeFrom: { offset: 0 } }, TypeError, /^resumeFrom applies only with uploadUrl/],
    ['resumeFrom not an object', url, { mode: 'tus', uploadUrl: url, resumeFrom: 5 as never }, TypeError, /^resumeFrom must be an object, received number 5$/],
    [
      'resumeFrom.offset negative',
      url,
      { mode: 'tus', uploadUrl: url, resumeFrom: { offset: -1 } },
      RangeError,
      /^resumeFrom.offset must be a non-negative integer, received -1$/,
    ],
    [
      'resumeFrom.length below the offset',
      url,
      { mode: 'tus', uploadUrl: url, resumeFrom: { offset: 10, length: 5 } },
      RangeError,
      /^resumeFrom.length must not be below resumeFrom.offset 10, received 5$/,
    ],
    [
      'a typo inside resumeFrom',
      url,
      { mode: 'tus', uploadUrl: url, resumeFrom: { ofset: 3 } as never },
      TypeError,
      /^Unknown option 'resumeFrom.ofset' \(did you mean 'resumeFrom.offset'\?\)$/,
    ],
    ['retry.limit negative', url, { mode: 'batch', retry: { limit: -1 } }, RangeError, /^retry.limit must be a non-negative integer, received -1$/],
    ['objectMode', url, { objectMode: true } as BufferedHttpWritableOptions, TypeError, /objectMode is not supported/],
  ];

  test.each(cases)('%s', (_name, target, options, errorClass, message) => {
    const construct = (): unknown => new BufferedHttpWritable(target as string, options as BufferedHttpWritableOptions);
    expect(construct).toThrow(errorClass);
    expect(construct).toThrow(message);
  });

  test('a URL with credentials is not echoed back', () => {
    expect(() => new BufferedHttpWritable('ftp://user:hunter2@example.com/')).toThrow(/received "ftp:\/\/example.com\/"/);
  });
});

describe("bad input at runtime gets Node's standard stream errors", () => {
  let sink: Sink;
  beforeEach(async () => {
    sink = await startSink();
  });
  afterEach(async () => {
    await sink.close();
  });

  test('a chunk that is not bytes', () => {
    const upload = new BufferedHttpWritable(sink.url);
    expect(() => upload.write(42 as unknown as Buffer)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
    upload.destroy();
  });

  test('write after end', async () => {
    const upload = new BufferedHttpWritable(sink.url);
    upload.end('done');
    upload.write('late');
    const [error] = (await once(upload, 'error')) as [Error & { code: string }];
    expect(error.code).toBe('ERR_STREAM_WRITE_AFTER_END');
  });

  test('a Uint8Array is accepted like a Buffer', async () => {
    const upload = new BufferedHttpWritable(sink.url);
    upload.end(new Uint8Array([1, 2, 3]));
    await once(upload, 'finish');
    expect([...sink.received[0]!.body]).toEqual([1, 2, 3]);
  });
});
