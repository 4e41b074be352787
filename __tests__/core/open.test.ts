/**
 * The Writable makes its transport when Node constructs the stream (a mode's
 * code is loaded on first use): writes made before then wait in the stream's
 * own queue and are sent in order; 'ready' says the transport is made; a
 * transport that cannot be made fails the stream, and every waiting write,
 * with its error.
 */
import { describe, expect, test } from '@jest/globals';
import { once } from 'node:events';
import got from 'got';
import { BufferedWritableCore } from '../../lib/core/writable.js';
import type { Transport } from '../../lib/modes/transport.js';
import { MemoryTransport } from '../helpers/memory-transport.js';

const context = { credentials: [], got, diagnostics: { mode: 'stream' as const, url: '', concurrency: 1 } };

/** A core whose transport is handed over when the test says so, as a mode loaded on first use is. */
function writableWithLateTransport(highWaterMark: number): {
  upload: BufferedWritableCore;
  give(transport: MemoryTransport): void;
  refuse(error: Error): void;
} {
  let give!: (transport: Transport) => void;
  let refuse!: (error: Error) => void;
  const made = new Promise<Transport>((resolve, reject) => ((give = resolve), (refuse = reject)));
  const upload = new BufferedWritableCore({ mode: 'stream', highWaterMark }, context, async (_options, _context, reports) => {
    const transport = (await made) as MemoryTransport;
    transport.reports = reports;
    return transport;
  });
  return { upload, give: (transport) => give(transport), refuse };
}

describe('the transport is made when the stream is constructed', () => {
  test("writes before it wait in the stream's queue, then go out in order; 'ready' comes once, first", async () => {
    const { upload, give } = writableWithLateTransport(4);
    const events: string[] = [];
    upload.on('ready', () => events.push('ready'));
    const written: string[] = [];
    for (const chunk of ['ab', 'cd', 'ef']) upload.write(chunk, () => written.push(chunk));
    await new Promise(setImmediate);
    expect([events, written, upload.bytesWritten, upload.concurrency]).toEqual([[], [], 0, 1]);

    const transport = new MemoryTransport({ maxInFlight: 2 });
    give(transport);
    await once(upload, 'ready');
    upload.end('gh');
    await once(upload, 'finish');
    expect(events).toEqual(['ready']);
    expect(written).toEqual(['ab', 'cd', 'ef']);
    expect(upload.concurrency).toBe(2);
    expect(transport.sends.map((send) => send.bytes.toString())).toEqual(['abcd', 'efgh']);
  });

  test('a transport that cannot be made fails the stream and the writes waiting for it, with its error', async () => {
    const { upload, refuse } = writableWithLateTransport(4);
    const callbacks: (Error | null | undefined)[] = [];
    upload.write('ab', (error) => callbacks.push(error));
    const errored = once(upload, 'error');
    refuse(new Error('no such mode here'));
    const [error] = (await errored) as [Error];
    expect(error.message).toBe('no such mode here');
    expect(callbacks).toEqual([error]);
    expect(upload.destroyed).toBe(true);
  });

  test('destroyed before the transport is made: the transport, once made, is stopped', async () => {
    const { upload, give } = writableWithLateTransport(4);
    upload.write('ab');
    upload.destroy();
    const transport = new MemoryTransport();
    give(transport);
    await once(upload, 'close');
    expect(transport.aborts).toBe(1);
    expect(transport.sends).toEqual([]);
  });
});
