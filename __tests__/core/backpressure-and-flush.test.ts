import { describe, expect, test } from '@jest/globals';
import { once } from 'node:events';
import { constructed } from '../helpers/constructed.js';
import { MemoryTransport, memoryWritable } from '../helpers/memory-transport.js';

describe('backpressure: a full buffer waits for a free transport slot', () => {
  test('the write callback is withheld until the transport lets go of a buffer', async () => {
    const transport = new MemoryTransport({ maxInFlight: 1, autoRelease: false });
    const { upload } = memoryWritable({ highWaterMark: 4 }, transport);
    // Writes before then wait in the stream's queue and reach the filler together.
    await constructed(upload);
    const called: string[] = [];
    // Half a buffer each: copied (a write that fills an empty buffer exactly would be lent as it is).
    for (const pair of ['aa', 'AA', 'bb', 'BB']) upload.write(pair, () => called.push(pair));
    const wantsMore = upload.write('cc', () => called.push('cc'));
    expect(wantsMore).toBe(false);
    await transport.sendsReach(1);
    await new Promise(setImmediate);
    // 'aaAA' is in flight; 'bbBB' fills the second buffer and waits for the only slot.
    expect(called).toEqual(['aa', 'AA', 'bb']);
    expect(transport.sends).toHaveLength(1);
    transport.sends[0]!.release();
    await transport.sendsReach(2);
    expect(transport.sends[1]!.bytes.toString()).toBe('bbBB');
    transport.autoRelease = true;
    transport.sends[1]!.release();
    upload.end();
    await once(upload, 'finish');
    expect(called).toEqual(['aa', 'AA', 'bb', 'BB', 'cc']);
    expect(transport.received().toString()).toBe('aaAAbbBBcc');
  });

  test('the pool never holds more than slots + 1 buffers whatever the producer does', async () => {
    const transport = new MemoryTransport({ maxInFlight: 2, autoRelease: false });
    const { upload } = memoryWritable({ highWaterMark: 8 }, transport);
    for (let i = 0; i < 50; i++) upload.write(Buffer.alloc(3, i));
    await transport.sendsReach(2);
    await new Promise(setImmediate);
    expect(transport.sends).toHaveLength(2);
    transport.autoRelease = true;
    for (const send of transport.sends.slice()) send.release();
    upload.end();
    await once(upload, 'finish');
    expect(transport.received().length).toBe(150);
  });
});

describe('flush()', () => {
  test('resolves only once every send before it was let go of, in order', async () => {
    const transport = new MemoryTransport({ maxInFlight: 2, autoRelease: false });
    const { upload } = memoryWritable({ highWaterMark: 64 }, transport);
    const settled: string[] = [];
    upload.write('one');
    const first = upload.flush().then(() => settled.push('first'));
    upload.write('two');
    const second = upload.flush().then(() => settled.push('second'));
    await transport.sendsReach(2);
    transport.sends[1]!.release();
    await new Promise(setImmediate);
    expect(settled).toEqual([]);
    transport.sends[0]!.release();
    await Promise.all([first, second]);
    expect(settled).toEqual(['first', 'second']);
    upload.destroy();
  });

  test('destroy() while flush() waits for a slot rejects it, and nothing more is sent', async () => {
    const transport = new MemoryTransport({ maxInFlight: 1, autoRelease: false });
    const { upload } = memoryWritable({ highWaterMark: 64 }, transport);
    upload.write('one');
    const first = upload.flush();
    await transport.sendsReach(1);
    upload.write('two');
    const second = upload.flush();
    upload.destroy();
    await expect(second).rejects.toMatchObject({ code: 'ERR_STREAM_DESTROYED' });
    await expect(first).rejects.toMatchObject({ code: 'ERR_STREAM_DESTROYED' });
    await once(upload, 'close');
    expect(transport.sends).toHaveLength(1);
    expect(transport.aborts).toBe(1);
  });
});

describe('one failure route', () => {
  test("the transport's fail() errors the stream once, with that error; later reports change nothing", async () => {
    const transport = new MemoryTransport({ maxInFlight: 1, autoRelease: false });
    const { upload } = memoryWritable({ highWaterMark: 4 }, transport);
    const errors: Error[] = [];
    upload.on('error', (error) => errors.push(error));
    const flushed = upload.flush();
    upload.write('abcd');
    await transport.sendsReach(1);
    const failure = new Error('the server went away');
    transport.reports.fail(failure);
    transport.reports.fail(new Error('the echo of the same failure'));
    await new Promise((resolve) => upload.on('close', resolve));
    expect(errors).toEqual([failure]);
    expect(upload.errored).toBe(failure);
    await expect(upload.flush()).rejects.toBe(failure);
    await flushed;
    expect(transport.aborts).toBe(1);
  });

  test('a failure while end() waits ends the stream with that error, not a finish', async () => {
    const transport = new MemoryTransport();
    transport.end = () => new Promise(() => transport.reports.fail(new Error('refused at the end')));
    const { upload } = memoryWritable({ highWaterMark: 4 }, transport);
    upload.on('finish', () => {
      throw new Error('finished despite the failure');
    });
    upload.end('ab');
    const [error] = await once(upload, 'error');
    expect((error as Error).message).toBe('refused at the end');
  });
});
