/**
 * Uploads through the public API and the checks the interop tests share:
 * every byte exact as the server side recorded it (sha256 and byte count), in
 * each mode, whatever sits between the client and the server.
 */
import { expect, test } from '@jest/globals';
import got, { type ExtendOptions, type Got } from 'got';
import { BufferedHttpWritable, type BufferedHttpWritableOptions } from '../../lib/index.js';
import { chunksOf, pattern } from '../helpers/data.js';
import { runUpload, type Outcome } from '../helpers/outcome.js';
import { sha256, type Sink } from '../helpers/sink-server.js';
import type { TusTestServer } from '../helpers/tus-server.js';
import type { Upstreams } from './servers.js';

export const MiB = 1024 * 1024;

/** Every request of the suite ends within this, whatever the server does: no test can hang. */
export const REQUEST_TIMEOUT_MS = 60_000;

/** A got instance bounded by a request timeout, plus whatever the test needs (agent, TLS, HTTP/2). */
export function boundedGot(options: ExtendOptions = {}): Got {
  return got.extend({ timeout: { request: REQUEST_TIMEOUT_MS } }, options);
}

/** 8 MiB of a seeded pattern, written in uneven pieces (some larger than highWaterMark). */
export const DATA = pattern(8 * MiB + 12_345, 14);
export const CHUNKS = chunksOf(DATA, [65_536, 7, 300_000, 1_500_000, 4096]);

export async function upload(
  url: string,
  options: BufferedHttpWritableOptions,
  chunks: Buffer[] = CHUNKS,
): Promise<Outcome & { upload: BufferedHttpWritable }> {
  const writable = new BufferedHttpWritable(url, { highWaterMark: MiB, ...options });
  const outcome = await runUpload(writable, chunks);
  return { ...outcome, upload: writable };
}

/** The upload finished, acknowledged every byte, and `error` is not set (its message shown when it is). */
export function expectFinished(outcome: Outcome & { upload: BufferedHttpWritable }, data: Buffer = DATA): void {
  expect(outcome.error?.message).toBeUndefined();
  expect(outcome.finished).toBe(true);
  expect(outcome.upload.bytesAcknowledged).toBe(data.length);
}

/** The sink's last stream-mode request holds exactly `data`. */
export function expectStreamExact(sink: Sink, data: Buffer = DATA): void {
  const last = sink.received.at(-1);
  expect(last).toBeDefined();
  expect(last!.body.length).toBe(data.length);
  expect(last!.sha256).toBe(sha256(data));
}

/**
 * The batch requests the sink received are the batches of `data`: contiguous
 * sequences from 0, each body exactly the bytes at its `Batch-Offset`, one
 * request per sequence (no duplicate), together all of `data`.
 */
export function expectBatchesExact(sink: Sink, data: Buffer = DATA): void {
  const batches = sink.received
    .map((request) => ({ sequence: Number(request.headers['batch-sequence']), offset: Number(request.headers['batch-offset']), request }))
    .sort((a, b) => a.sequence - b.sequence);
  expect(batches.map((batch) => batch.sequence)).toEqual(batches.map((_batch, index) => index));
  let offset = 0;
  for (const batch of batches) {
    expect(batch.offset).toBe(offset);
    const expected = data.subarray(offset, offset + batch.request.body.length);
    expect(batch.request.body.length).toBeGreaterThan(0);
    expect(Number(batch.request.headers['content-length'])).toBe(batch.request.body.length);
    expect(batch.request.sha256).toBe(sha256(expected));
    offset += batch.request.body.length;
  }
  expect(offset).toBe(data.length);
}

/** The tus store holds exactly `data` for the upload. */
export async function expectTusExact(tus: TusTestServer, uploadUrl: string | undefined, data: Buffer = DATA): Promise<void> {
  expect(uploadUrl).toBeDefined();
  const stored = await tus.stored(uploadUrl!);
  expect(stored.offset).toBe(data.length);
  expect(stored.length).toBe(data.length);
  expect(stored.sha256).toBe(sha256(data));
}

/**
 * The tests every proxy in front of the repo's upstreams runs besides its own:
 * a sized stream body, batches at concurrency 1 and 4, and tus, each exact at
 * the upstream. `at()` is read when a test runs, after the file's `beforeAll`
 * started the proxy.
 */
export function exactInEveryMode(at: () => { base: string; upstreams: Upstreams; client: Got }): void {
  test('stream with contentLength: exact', async () => {
    const { base, upstreams, client } = at();
    expectFinished(await upload(`${base}/sized`, { got: client, contentLength: DATA.length }));
    expectStreamExact(upstreams.sink);
  });

  test.each([1, 4])('batch, concurrency %i: every batch exact, sequences contiguous', async (concurrency) => {
    const { base, upstreams, client } = at();
    upstreams.sink.received.length = 0;
    expectFinished(await upload(`${base}/batch`, { got: client, mode: 'batch', concurrency }));
    expectBatchesExact(upstreams.sink);
  });

  test('tus to @tus/server: exact', async () => {
    const { base, upstreams, client } = at();
    const outcome = await upload(`${base}/files`, { got: client, mode: 'tus' });
    expectFinished(outcome);
    await expectTusExact(upstreams.tus, outcome.upload.uploadUrl);
  });
}
