import { once } from 'node:events';
import { describe, expect, test } from '@jest/globals';
import { BufferedHttpWritable, type BatchModeOptions } from '../../lib/index.js';

const url = 'http://127.0.0.1:9/';

describe('batch options are checked at construction', () => {
  const bad: Array<[string, Omit<BatchModeOptions, 'mode'>, RegExp]> = [
    ['concurrency 0', { concurrency: 0 }, /concurrency must be a positive integer, received 0/],
    ['fractional concurrency', { concurrency: 1.5 }, /concurrency must be a positive integer, received 1.5/],
    ['negative flushInterval', { flushInterval: -5 }, /flushInterval must be a positive integer, received -5/],
    ['unknown compress', { compress: 'br' as 'gzip' }, /compress must be one of 'gzip', received "br"/],
  ];

  test.each(bad)('%s', (_name, options, message) => {
    expect(() => new BufferedHttpWritable(url, { mode: 'batch', ...options })).toThrow(message);
  });

  test('valid options build an idle upload that opens nothing', async () => {
    const upload = new BufferedHttpWritable(url, { mode: 'batch', concurrency: 3, flushInterval: 10, compress: 'gzip', retry: { limit: 1 } });
    expect(upload.progress).toEqual({ bytesWritten: 0, bytesSent: 0, bytesAcknowledged: 0, batchesSent: 0, batchesAcknowledged: 0 });
    upload.destroy();
    await once(upload, 'close');
  });
});
