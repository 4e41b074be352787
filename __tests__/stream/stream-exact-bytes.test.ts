import { afterEach, beforeEach, describe, expect, test } from '@jest/globals';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { BufferedHttpWritable } from '../../lib/index.js';
import { chunksOf, pattern } from '../helpers/data.js';
import { sha256, startSink, type Sink } from '../helpers/sink-server.js';

describe('stream mode delivers exactly the bytes written', () => {
  let sink: Sink;
  beforeEach(async () => {
    sink = await startSink();
  });
  afterEach(async () => {
    await sink.close();
  });

  const highWaterMark = 4096;
  const cases: Array<[string, number, number[]]> = [
    ['1-byte writes', 10_000, [1]],
    ['37-byte writes', 50_000, [37]],
    ['writes of exactly highWaterMark', highWaterMark * 5, [highWaterMark]],
    ['writes larger than highWaterMark', 100_000, [highWaterMark * 3 + 17]],
    ['mixed small and large writes', 200_000, [1, 37, highWaterMark, 5000, 0, 12_345, highWaterMark - 1, 2]],
    ['an empty upload', 0, [1]],
  ];

  test.each(cases)('%s', async (_name, total, sizes) => {
    const data = pattern(total);
    const upload = new BufferedHttpWritable(sink.url, { highWaterMark });
    await pipeline(Readable.from(chunksOf(data, sizes)), upload);

    expect(sink.requestCount).toBe(1);
    expect(sink.received[0]!.body.length).toBe(total);
    expect(sink.received[0]!.sha256).toBe(sha256(data));
    expect(upload.bytesWritten).toBe(total);
    expect(upload.bytesAcknowledged).toBe(total);
    expect(upload.response?.statusCode).toBe(200);
    expect(JSON.parse(upload.response!.body)).toEqual({ bytes: total, sha256: sha256(data) });
  });

  test('strings with multi-byte characters across buffer boundaries', async () => {
    const pieces = ['héllo ', 'wörld ', '日本語テキスト', '🚀🌍', 'a'.repeat(4093), '€€€', 'ß'.repeat(3000)];
    const text = pieces.join('').repeat(20);
    const upload = new BufferedHttpWritable(sink.url, { highWaterMark: 64 });
    await pipeline(Readable.from(Array.from({ length: 20 }, () => pieces).flat(), { objectMode: false }), upload);
    expect(sink.received[0]!.body.toString('utf8')).toBe(text);
    expect(upload.bytesWritten).toBe(Buffer.byteLength(text));
  });

  test('strings in other encodings', async () => {
    const upload = new BufferedHttpWritable(sink.url, { highWaterMark: 16 });
    upload.write('deadbeef', 'hex');
    upload.write('aGVsbG8=', 'base64');
    upload.write('plain', 'latin1');
    upload.end();
    await new Promise((resolve, reject) => upload.on('finish', resolve).on('error', reject));
    expect(sink.received[0]!.body).toEqual(Buffer.concat([Buffer.from('deadbeef', 'hex'), Buffer.from('hello'), Buffer.from('plain')]));
  });
});
