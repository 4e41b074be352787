import { afterEach, beforeEach, describe, expect, test } from '@jest/globals';
import { once } from 'node:events';
import { appendFile, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BufferedHttpWritable, type BufferedHttpWritableError, type HttpStatusError } from '../../lib/index.js';
import { ndjsonLines, startBatchServer, type BatchServer } from '../helpers/batch-server.js';
import { startSink } from '../helpers/sink-server.js';

let dir: string;
let server: BatchServer | undefined;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'bhw-spool-'));
});
afterEach(async () => {
  await server?.close();
  server = undefined;
  await rm(dir, { recursive: true, force: true });
});

/** Writes every line (respecting backpressure) and ends; resolves on 'finish'. */
async function writeAll(upload: BufferedHttpWritable, lines: string[]): Promise<void> {
  for (const line of lines) {
    if (!upload.write(line)) await once(upload, 'drain');
  }
  upload.end();
  await once(upload, 'finish');
}

/** A closed port: every request is refused. */
async function deadUrl(): Promise<string> {
  const sink = await startSink();
  await sink.close();
  return sink.url;
}

describe('batch mode with a spool', () => {
  test('delivers every record exactly, whole, and finishes with the spool empty', async () => {
    server = await startBatchServer();
    const lines = ndjsonLines(2000, 1);
    const upload = new BufferedHttpWritable(server.url, { mode: 'batch', highWaterMark: 4096, concurrency: 3, spool: { dir } });
    await writeAll(upload, lines);
    expect(server.assembled().toString()).toBe(lines.join(''));
    for (const batch of server.ordered()) expect(batch.body.toString().endsWith('\n')).toBe(true);
    expect(upload.bytesAcknowledged).toBe(Buffer.byteLength(lines.join('')));
    // Reopened, the spool holds nothing: a drain sends no request.
    const requests = server.attempts.length;
    const again = new BufferedHttpWritable(server.url, { mode: 'batch', spool: { dir } });
    again.end();
    await once(again, 'finish');
    expect(server.attempts.length).toBe(requests);
    expect(again.progress.bytesFromSpool).toBe(0);
  });

  test('flush() cuts a batch at that point and resolves once it is acknowledged', async () => {
    server = await startBatchServer();
    const upload = new BufferedHttpWritable(server.url, { mode: 'batch', highWaterMark: 4096, spool: { dir } });
    upload.write('{"a":1}\n');
    upload.write('{"b":2}\n');
    await upload.flush();
    expect(server.ordered().map((batch) => batch.body.toString())).toEqual(['{"a":1}\n{"b":2}\n']);
    upload.end('{"c":3}\n');
    await once(upload, 'finish');
    expect(server.assembled().toString()).toBe('{"a":1}\n{"b":2}\n{"c":3}\n');
  });

  test('writes are accepted while the server is down; a restart sends them first, with the same keys', async () => {
    const lines = ndjsonLines(300, 2);
    const first = new BufferedHttpWritable(await deadUrl(), { mode: 'batch', highWaterMark: 2048, spool: { dir }, retry: { limit: 0 } });
    const failed = once(first, 'error');
    const closed = new Promise((resolve) => first.on('close', resolve));
    for (const line of lines) first.write(line);
    await new Promise<void>((resolve) => first.write('', () => resolve()));
    const [error] = (await failed) as [BufferedHttpWritableError];
    expect(error.code).toBe('ERR_BHW_NETWORK');
    expect(error.spool).toMatchObject({ dir });
    expect(error.spool!.bytesStored).toBeGreaterThan(0);
    await closed;

    server = await startBatchServer();
    const second = new BufferedHttpWritable(server.url, { mode: 'batch', highWaterMark: 2048, spool: { dir } });
    second.end('{"after":"restart"}\n');
    await once(second, 'finish');
    expect(second.progress.bytesFromSpool).toBe(Buffer.byteLength(lines.join('')));
    expect(server.assembled().toString()).toBe(`${lines.join('')}{"after":"restart"}\n`);
    // Keys come from the spool's upload id: the same prefix for the old batches and the new one.
    const prefixes = new Set(server.ordered().map((batch) => batch.key.replace(/-\d+$/, '')));
    expect(prefixes.size).toBe(1);
  });

  test('a full spool pushes back while the server holds its answers, and nothing is lost when it answers again', async () => {
    server = await startBatchServer();
    server.paused = true;
    const upload = new BufferedHttpWritable(server.url, { mode: 'batch', highWaterMark: 4096, spool: { dir, maxBytes: 64 * 1024 } });
    const lines = ndjsonLines(3000, 3);
    let confirmed = 0;
    let refused = false;
    for (const line of lines) {
      if (!upload.write(line, () => confirmed++)) refused = true;
    }
    expect(refused).toBe(true);
    // Only what fits in the spool is confirmed while no batch is acknowledged.
    await server.waitFor(() => server!.attempts.length >= 1);
    expect(confirmed).toBeLessThan(lines.length);
    server.paused = false;
    server.resume();
    upload.end();
    await once(upload, 'finish');
    expect(confirmed).toBe(lines.length);
    expect(server.assembled().toString()).toBe(lines.join(''));
  });

  test('a batch refused permanently (400) is set aside once, named in the error, and not resent', async () => {
    server = await startBatchServer(({ sequence }) => (sequence === 1 ? { kind: 'status', status: 400, body: 'bad record' } : { kind: 'ok' }));
    const upload = new BufferedHttpWritable(server.url, { mode: 'batch', highWaterMark: 64, spool: { dir } });
    const failed = once(upload, 'error');
    const closed = new Promise((resolve) => upload.on('close', resolve));
    upload.write(`${'a'.repeat(40)}\n`);
    upload.write(`${'b'.repeat(40)}\n`);
    upload.write(`${'c'.repeat(40)}\n`);
    upload.end();
    const [error] = (await failed) as [HttpStatusError];
    expect(error).toMatchObject({ code: 'ERR_BHW_HTTP_STATUS', statusCode: 400, sequence: 1 });
    const aside = error.spool!.setAside!;
    expect(aside.startsWith(join(dir, 'rejected'))).toBe(true);
    expect((await readFile(aside)).toString()).toBe(`${'b'.repeat(40)}\n`);
    expect(JSON.parse((await readFile(aside.replace(/\.bin$/, '.json'))).toString())).toMatchObject({ statusCode: 400, body: 'bad record', sequence: 1 });
    await closed;

    // The next start goes on after it: the rest arrives, the refused batch is not sent again.
    const attemptsOfOne = server.attempts.filter((attempt) => attempt.sequence === 1).length;
    const drain = new BufferedHttpWritable(server.url, { mode: 'batch', highWaterMark: 64, spool: { dir } });
    drain.end();
    await once(drain, 'finish');
    expect(server.assembled().toString()).toBe(`${'a'.repeat(40)}\n${'c'.repeat(40)}\n`);
    expect(server.attempts.filter((attempt) => attempt.sequence === 1)).toHaveLength(attemptsOfOne);
    expect(await readdir(join(dir, 'rejected'))).toHaveLength(2);
  });

  test('one writer per spool: a second writable on the same directory fails with ERR_BHW_SPOOL_LOCKED', async () => {
    server = await startBatchServer();
    const first = new BufferedHttpWritable(server.url, { mode: 'batch', spool: { dir } });
    first.write('x\n');
    await new Promise<void>((resolve) => first.write('', () => resolve()));
    const second = new BufferedHttpWritable(server.url, { mode: 'batch', spool: { dir } });
    const [error] = (await once(second, 'error')) as [BufferedHttpWritableError & { pid: number }];
    expect(error).toMatchObject({ code: 'ERR_BHW_SPOOL_LOCKED', pid: process.pid });
    first.end();
    await once(first, 'finish');
  });

  test('flushInterval cuts a partial batch out of the spool without flush() or end()', async () => {
    server = await startBatchServer();
    const upload = new BufferedHttpWritable(server.url, { mode: 'batch', highWaterMark: 4096, flushInterval: 20, spool: { dir } });
    upload.write('{"alone":true}\n');
    await server.waitFor(() => server!.stored.size === 1);
    expect(server.assembled().toString()).toBe('{"alone":true}\n');
    upload.end();
    await once(upload, 'finish');
  });

  test('a write larger than highWaterMark travels alone out of the spool, and the pool buffer is not held for it', async () => {
    server = await startBatchServer();
    const big = `${'x'.repeat(10_000)}\n`;
    const upload = new BufferedHttpWritable(server.url, { mode: 'batch', highWaterMark: 4096, spool: { dir } });
    await writeAll(upload, ['{"a":1}\n', big, '{"b":2}\n']);
    expect(server.ordered().map((batch) => batch.body.length)).toEqual([8, big.length, 8]);
    expect(server.assembled().toString()).toBe(`{"a":1}\n${big}{"b":2}\n`);
  });

  describe('crash damage', () => {
    /** Records left in the spool by an upload whose server never answered. */
    async function leaveInSpool(lines: string[]): Promise<string> {
      const first = new BufferedHttpWritable(await deadUrl(), { mode: 'batch', highWaterMark: 1 << 20, spool: { dir }, retry: { limit: 0 } });
      const closed = new Promise((resolve) => first.on('close', resolve));
      first.on('error', () => {});
      // Two rounds of appends, so the last append (the only one that may be a torn tail) is the second half.
      const half = Math.ceil(lines.length / 2);
      for (const line of lines.slice(0, half)) first.write(line);
      await new Promise<void>((resolve) => first.write('', () => resolve()));
      for (const line of lines.slice(half)) first.write(line);
      await new Promise<void>((resolve) => first.write('', () => resolve()));
      first.destroy();
      await closed;
      const segments = (await readdir(dir)).filter((name) => name.startsWith('seg-')).sort();
      return join(dir, segments.at(-1)!);
    }

    test('a torn tail (a partial last append) is cut without an error and the rest delivered', async () => {
      const lines = ndjsonLines(50, 5);
      const segment = await leaveInSpool(lines);
      const size = (await stat(segment)).size;
      // What a process killed in the middle of its next append leaves: a frame header promising more than follows.
      await appendFile(segment, Buffer.from([0x00, 0x10, 0x00, 0x00, 0xaa, 0xbb, 0xcc]));
      expect((await stat(segment)).size).toBe(size + 7);
      server = await startBatchServer();
      const drain = new BufferedHttpWritable(server.url, { mode: 'batch', spool: { dir } });
      drain.end();
      await once(drain, 'finish');
      expect(server.assembled().toString()).toBe(lines.join(''));
    });

    test('a damaged byte in the middle fails the open with ERR_BHW_SPOOL_CORRUPT naming file and offset, and sends nothing', async () => {
      const segment = await leaveInSpool(ndjsonLines(50, 6));
      const bytes = await readFile(segment);
      bytes[Math.floor(bytes.length / 3)]! ^= 0xff;
      await writeFile(segment, bytes);
      // A third of the way in lies in the first half's appends: damage, not a torn tail.
      server = await startBatchServer();
      const reopened = new BufferedHttpWritable(server.url, { mode: 'batch', spool: { dir } });
      const [error] = (await once(reopened, 'error')) as [BufferedHttpWritableError & { file: string; position: number }];
      expect(error).toMatchObject({ code: 'ERR_BHW_SPOOL_CORRUPT', file: segment });
      expect(error.position).toBeLessThan(bytes.length);
      expect(server.attempts).toHaveLength(0);
    });
  });

  test('spool options are checked at construction', () => {
    // @ts-expect-error spool is a batch option: JavaScript callers get the same refusal at run time
    expect(() => new BufferedHttpWritable('http://127.0.0.1:9/', { spool: { dir } })).toThrow("'spool' does not apply to mode 'stream'");
    expect(() => new BufferedHttpWritable('http://127.0.0.1:9/', { mode: 'batch', spool: { dir, fsyn: true } as never })).toThrow(
      "Unknown option 'spool.fsyn' (did you mean 'spool.fsync'?)",
    );
    expect(() => new BufferedHttpWritable('http://127.0.0.1:9/', { mode: 'batch', spool: { dir: '' } })).toThrow('spool.dir must be a directory path');
  });
});
