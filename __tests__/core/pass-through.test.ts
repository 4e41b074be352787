import { describe, expect, test } from '@jest/globals';
import { once } from 'node:events';
import { MemoryTransport, memoryWritable } from '../helpers/memory-transport.js';

/** Lets every pending callback and promise run. */
const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('a write that exactly fills an empty buffer is sent as it is, not copied', () => {
  test('the transport receives the very Buffer written; its callback waits until the transport lets go of it', async () => {
    const transport = new MemoryTransport({ autoRelease: false });
    const { upload } = memoryWritable({ highWaterMark: 8 }, transport);
    const chunk = Buffer.from('01234567');
    let calledBack = 0;
    upload.write(chunk, () => calledBack++);
    await transport.sendsReach(1);
    expect(transport.sends[0]!.handed).toBe(chunk);
    // The caller's memory is the transport's until the send resolves: no callback before.
    await settle();
    expect(calledBack).toBe(0);
    transport.sends[0]!.release();
    await settle();
    expect(calledBack).toBe(1);
    upload.end();
    await once(upload, 'finish');
    expect(transport.sends.map((send) => send.info)).toEqual([{ sequence: 0, offset: 0, last: false }]);
    expect(upload.bytesWritten).toBe(8);
  });

  test('records kept whole: after what was buffered goes, the write fills an empty buffer and goes as it is', async () => {
    const { upload, transport } = memoryWritable({ highWaterMark: 8 }, new MemoryTransport({ keepsWritesWhole: true }));
    const chunk = Buffer.from('01234567');
    upload.write('ab');
    upload.write(chunk);
    upload.end();
    await once(upload, 'finish');
    expect(transport.sends.map((send) => send.bytes.toString())).toEqual(['ab', '01234567']);
    expect(transport.sends[1]!.handed).toBe(chunk);
    expect(transport.sends.map((send) => send.info.records)).toEqual([[2], [8]]);
  });

  test('a buffer partly filled is topped up first: a write of a buffer size is then copied across two buffers', async () => {
    const { upload, transport } = memoryWritable({ highWaterMark: 8 });
    const chunk = Buffer.from('01234567');
    upload.write('ab');
    upload.write(chunk);
    upload.end();
    await once(upload, 'finish');
    expect(transport.sends.map((send) => send.bytes.toString())).toEqual(['ab012345', '67']);
    expect(transport.sends.some((send) => send.handed === chunk)).toBe(false);
  });

  test('with more than one slot it is copied: its callback does not wait, so the producer fills the next slot meanwhile', async () => {
    const transport = new MemoryTransport({ maxInFlight: 2, autoRelease: false });
    const { upload } = memoryWritable({ highWaterMark: 8 }, transport);
    const chunk = Buffer.from('01234567');
    let calledBack = 0;
    upload.write(chunk, () => calledBack++);
    await transport.sendsReach(1);
    await settle();
    expect(transport.sends[0]!.handed).not.toBe(chunk);
    expect(calledBack).toBe(1);
    transport.autoRelease = true;
    transport.sends[0]!.release();
    upload.end();
    await once(upload, 'finish');
  });
});
