import { describe, expect, test } from '@jest/globals';
import { once } from 'node:events';
import { failed } from '../../lib/modes/transport.js';
import { MemoryTransport, memoryWritable } from '../helpers/memory-transport.js';

/** Resolves when `write()` calls back. */
function written(upload: NodeJS.WritableStream, chunk: string | Buffer): Promise<void> {
  return new Promise((resolve, reject) => upload.write(chunk, (error) => (error ? reject(error) : resolve())));
}

describe('a full buffer is sent the moment it is full', () => {
  test('records kept whole: a write that exactly fills the fresh buffer after an overflow goes at once', async () => {
    const { upload, transport } = memoryWritable({ highWaterMark: 10 }, new MemoryTransport({ keepsWritesWhole: true }));
    await written(upload, 'abc');
    await written(upload, Buffer.from('0123456789'));
    // Before end(): 'abc' went when the 10 bytes did not fit, and the 10 bytes fill their own buffer.
    expect(transport.sends.map((send) => send.bytes.toString())).toEqual(['abc', '0123456789']);
    expect(transport.sends.map((send) => send.info.records)).toEqual([[3], [10]]);
    upload.end();
    await once(upload, 'finish');
    expect(transport.sends).toHaveLength(2);
  });

  test('a string that exactly fills the room left goes at once', async () => {
    const { upload, transport } = memoryWritable({ highWaterMark: 12 });
    await written(upload, 'abcd');
    await written(upload, 'efgh');
    expect(transport.sends).toHaveLength(0);
    await written(upload, 'ijkl');
    expect(transport.sends.map((send) => send.bytes.toString())).toEqual(['abcdefghijkl']);
    upload.destroy();
  });

  test('split across buffers when writes may be split: every full buffer goes', async () => {
    const { upload, transport } = memoryWritable({ highWaterMark: 4 });
    await written(upload, 'ab');
    await written(upload, 'cdef'); // fills the first buffer and half the next
    expect(transport.sends.map((send) => send.bytes.toString())).toEqual(['abcd']);
    await written(upload, 'gh');
    expect(transport.sends.map((send) => send.bytes.toString())).toEqual(['abcd', 'efgh']);
    upload.end();
    await once(upload, 'finish');
    expect(transport.received().toString()).toBe('abcdefgh');
  });
});

describe('each send says where it stands and whether it is the last', () => {
  test('sequence and offset count up; only the buffer dispatched by end() is the last', async () => {
    const { upload, transport } = memoryWritable({ highWaterMark: 4 });
    upload.write('abc');
    upload.write('def');
    upload.end('gh!');
    await once(upload, 'finish');
    expect(transport.sends.map((send) => send.info)).toEqual([
      { sequence: 0, offset: 0, last: false },
      { sequence: 1, offset: 4, last: false },
      { sequence: 2, offset: 8, last: true },
    ]);
    expect(transport.ended).toBe(true);
  });

  test('a total that is a multiple of the buffer size: no send is marked last, end() carries the rest', async () => {
    const { upload, transport } = memoryWritable({ highWaterMark: 4 });
    for (const pair of ['ab', 'cd', 'ef', 'gh']) upload.write(pair);
    upload.end();
    await once(upload, 'finish');
    expect(transport.sends.map((send) => send.info.last)).toEqual([false, false]);
    expect(upload.response).toEqual({ statusCode: 200, headers: {}, body: 'received 8' });
  });
});

describe('records kept whole: each send lists the length of every write in it', () => {
  test('strings, buffers and a write larger than a buffer (alone)', async () => {
    const { upload, transport } = memoryWritable({ highWaterMark: 8 }, new MemoryTransport({ keepsWritesWhole: true }));
    upload.write('ab');
    upload.write(Buffer.from('cde'));
    upload.write('fghij'); // does not fit: 'ab','cde' go, 'fghij' starts the next buffer
    upload.write(Buffer.alloc(20, 1)); // larger than a buffer: 'fghij' goes, then the 20 bytes alone
    upload.end('k');
    await once(upload, 'finish');
    expect(transport.sends.map((send) => send.info.records)).toEqual([[2, 3], [5], [20], [1]]);
  });
});

describe('failed(): the one failure route of send()/end()', () => {
  test('a rejection that is not an Error still reaches the route as an Error, and the promise never settles', async () => {
    const seen: Error[] = [];
    let settled = false;
    void failed(Promise.reject('a string, not an Error'), (error) => seen.push(error)).then(
      () => (settled = true),
      () => (settled = true),
    );
    await new Promise(setImmediate);
    expect(seen.map((error) => error.message)).toEqual(['a string, not an Error']);
    expect(settled).toBe(false);
  });
});
