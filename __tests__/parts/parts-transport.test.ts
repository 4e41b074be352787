import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import diagnosticsChannel from 'node:diagnostics_channel';
import { once } from 'node:events';
import { afterEach, beforeEach, describe, expect, test } from '@jest/globals';
import got from 'got';
import { BufferedWritableCore } from '../../lib/core/writable.js';
import { DiagnosticsChannels, type RequestRetriedMessage, type UploadDiagnostics } from '../../lib/diagnostics.js';
import { HttpStatusError, PartsStateError, TooManyPartsError, type BufferedHttpWritableError } from '../../lib/errors.js';
import { AttemptFailed } from '../../lib/http/retry-loop.js';
import { resolveCommon } from '../../lib/options/common.js';
import { resolvePartsOptions } from '../../lib/modes/parts/options.js';
import type { PartsProtocol, StoredPart } from '../../lib/modes/parts/protocol.js';
import { readUploadState } from '../../lib/modes/parts/state-file.js';
import { PartsTransport } from '../../lib/modes/parts/transport.js';
import type { AttemptContext } from '../../lib/http/attempt.js';
import type { AnyModeOptions, UploadResponse } from '../../lib/types.js';

const URL_ = 'http://127.0.0.1:1/bucket/object.bin';
const PART = 64 * 1024;

/**
 * A multipart store in memory: the parts transport's order, concurrency,
 * retries, state file and abort tested without HTTP (the S3 and Azure
 * protocols are tested against s3rver and Azurite).
 */
class MemoryStore implements PartsProtocol {
  readonly name = 'memory multipart upload';
  maxParts = 10_000;
  readonly parts = new Map<number, Buffer>();
  readonly calls: string[] = [];
  object?: Buffer;
  aborted = false;
  inFlight = 0;
  maxInFlight = 0;
  /** part number → statuses its next attempts answer (then 200). */
  readonly failures = new Map<number, number[]>();
  #uploads = 0;
  /** What the transport hands a protocol: its errors say where the upload stands, as attempt() makes them say. */
  context?: AttemptContext;

  async create(): Promise<string> {
    this.calls.push('create');
    this.#uploads++;
    return `upload-${this.#uploads}`;
  }

  async uploadPart(uploadId: string, number: number, bytes: Buffer): Promise<StoredPart> {
    this.calls.push(`part ${number}`);
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    try {
      // Yield so that parallel parts overlap.
      await new Promise((resolve) => setImmediate(resolve));
      const status = this.failures.get(number)?.shift();
      if (status !== undefined) {
        const error = new HttpStatusError({ statusCode: status, body: '' }, this.context!.progress(), this.context!.position!());
        throw new AttemptFailed({ error, statusCode: status });
      }
      this.parts.set(number, Buffer.from(bytes));
      return { number, size: bytes.length, etag: `"${uploadId}-${number}"` };
    } finally {
      this.inFlight--;
    }
  }

  async complete(_uploadId: string, parts: readonly StoredPart[]): Promise<UploadResponse> {
    this.calls.push(`complete ${parts.map((part) => part.number).join(',')}`);
    this.object = Buffer.concat(parts.map((part) => this.parts.get(part.number)!));
    return { statusCode: 200, headers: {}, body: 'completed' };
  }

  async putWhole(bytes: Buffer): Promise<UploadResponse> {
    this.calls.push(`whole ${bytes.length}`);
    this.object = Buffer.from(bytes);
    return { statusCode: 200, headers: {}, body: 'put' };
  }

  async abort(): Promise<void> {
    this.calls.push('abort');
    this.aborted = true;
  }
}

function writable(store: MemoryStore, options: AnyModeOptions = {}): BufferedWritableCore {
  const resolved = resolvePartsOptions({ highWaterMark: PART, retry: { backoffLimit: 1 }, ...options }, resolveCommon(URL_, {}));
  const context = { credentials: [], got, diagnostics: { mode: 's3' as const, url: URL_, concurrency: 1 } as UploadDiagnostics };
  const core = new BufferedWritableCore(
    { mode: 'stream', highWaterMark: PART },
    context,
    (_options, _context, reports) =>
      new PartsTransport(resolved, context, reports, (attemptContext) => {
        store.context = attemptContext;
        return store;
      }),
  );
  (context.diagnostics as UploadDiagnostics).upload = core;
  return core;
}

async function upload(target: BufferedWritableCore, data: Buffer): Promise<void> {
  // Writes of an odd size, so parts are filled from several writes.
  for (let at = 0; at < data.length; at += 10_000) {
    if (!target.write(data.subarray(at, at + 10_000))) await once(target, 'drain');
  }
  target.end();
  await once(target, 'finish');
}

async function failure(target: BufferedWritableCore, data: Buffer): Promise<BufferedHttpWritableError> {
  const failed = once(target, 'error').then(([error]) => error as BufferedHttpWritableError);
  target.on('error', () => {});
  for (let at = 0; at < data.length && !target.destroyed; at += 10_000) {
    if (!target.write(data.subarray(at, at + 10_000))) await Promise.race([once(target, 'drain').catch(() => {}), failed]);
  }
  if (!target.destroyed) target.end();
  return failed;
}

function bytes(length: number): Buffer {
  return createHash('sha512')
    .update(String(length))
    .digest()
    .toString('hex')
    .repeat(Math.ceil(length / 128))
    .slice(0, length)
    .split('')
    .reduce((buffer, char, i) => ((buffer[i] = char.charCodeAt(0) ^ (i & 0xff)), buffer), Buffer.alloc(length));
}

describe('parts transport (the multipart modes)', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'bhw-parts-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test('a part per buffer, in parallel up to the limit, completed in order', async () => {
    const store = new MemoryStore();
    const data = bytes(PART * 5 + 123);
    await upload(writable(store, { concurrency: 3 }), data);
    expect(store.object!.equals(data)).toBe(true);
    expect(store.calls.filter((call) => call.startsWith('part')).sort()).toEqual(['part 1', 'part 2', 'part 3', 'part 4', 'part 5', 'part 6']);
    expect(store.calls.at(-1)).toBe('complete 1,2,3,4,5,6');
    expect(store.maxInFlight).toBe(3);
  });

  test('a body smaller than one part is one request, an empty one too', async () => {
    const small = new MemoryStore();
    await upload(writable(small), bytes(1000));
    expect(small.calls).toEqual(['whole 1000']);
    const empty = new MemoryStore();
    await upload(writable(empty), Buffer.alloc(0));
    expect(empty.calls).toEqual(['whole 0']);
  });

  test('a failed part is retried alone; the others go once', async () => {
    const store = new MemoryStore();
    store.failures.set(2, [503, 500]);
    const data = bytes(PART * 3);
    const retried: RequestRetriedMessage[] = [];
    const listener = (message: unknown): void => void retried.push(message as RequestRetriedMessage);
    diagnosticsChannel.subscribe(DiagnosticsChannels.requestRetried, listener);
    const target = writable(store, { concurrency: 2 });
    try {
      await upload(target, data);
    } finally {
      diagnosticsChannel.unsubscribe(DiagnosticsChannels.requestRetried, listener);
    }
    expect(retried).toEqual([
      expect.objectContaining({ upload: target, mode: 's3', request: 'part 2', attempt: 1, reason: '503', statusCode: 503 }),
      expect.objectContaining({ upload: target, mode: 's3', request: 'part 2', attempt: 2, reason: '500', statusCode: 500 }),
    ]);
    expect(store.object!.equals(data)).toBe(true);
    const partCalls = store.calls.filter((call) => call.startsWith('part'));
    expect(partCalls.filter((call) => call === 'part 2')).toHaveLength(3);
    expect(partCalls.filter((call) => call !== 'part 2')).toEqual(['part 1', 'part 3']);
  });

  test('a refused part ends the upload: the multipart upload is aborted, the error says which parts were stored', async () => {
    const store = new MemoryStore();
    store.failures.set(3, [403]);
    const error = await failure(writable(store, { concurrency: 1 }), bytes(PART * 5));
    expect(error).toBeInstanceOf(HttpStatusError);
    expect(error.uploadId).toBe('upload-1');
    expect(error.partsStored).toEqual([1, 2]);
    expect(store.aborted).toBe(true);
    expect(store.calls).not.toContainEqual(expect.stringMatching(/^complete/));
  });

  test('more parts than the protocol allows: TooManyPartsError before the part is sent', async () => {
    const store = new MemoryStore();
    store.maxParts = 2;
    const error = await failure(writable(store), bytes(PART * 3 + 1));
    expect(error).toBeInstanceOf(TooManyPartsError);
    expect(error.message).toMatch(/at most 2 parts.*raise highWaterMark/);
    expect(store.calls.filter((call) => call.startsWith('part'))).toEqual(['part 1', 'part 2']);
  });

  test('a state file lets a later writable continue with the next part; it is removed once complete', async () => {
    const stateFile = join(dir, 'upload.json');
    const store = new MemoryStore();
    store.failures.set(3, [403]);
    const data = bytes(PART * 5 + 77);
    const error = await failure(writable(store, { concurrency: 1, stateFile }), data);
    expect(error.partsStored).toEqual([1, 2]);
    // With a state file the parts are kept for the resume.
    expect(store.aborted).toBe(false);
    expect((await stat(stateFile)).mode & 0o777).toBe(0o600);
    const state = await readUploadState(stateFile);
    expect(state).toEqual(expect.objectContaining({ uploadId: 'upload-1', bytesStored: PART * 2 }));
    expect(await readFile(stateFile, 'utf8')).toContain('"target": "http://127.0.0.1:1/bucket/object.bin"');

    await upload(writable(store, { concurrency: 2, stateFile }), data.subarray(state!.bytesStored));
    expect(store.calls.filter((call) => call === 'create')).toHaveLength(1);
    expect(store.calls.at(-1)).toBe('complete 1,2,3,4,5,6');
    expect(store.object!.equals(data)).toBe(true);
    await expect(stat(stateFile)).rejects.toThrow(/ENOENT/);
  });

  test('a state file of another target, or not a state file, is refused with PartsStateError', async () => {
    const stateFile = join(dir, 'other.json');
    await writeFile(stateFile, JSON.stringify({ version: 1, target: 'http://127.0.0.1:1/bucket/other.bin', uploadId: 'u', parts: [] }));
    const error = await failure(writable(new MemoryStore(), { stateFile }), bytes(PART * 2));
    expect(error).toBeInstanceOf(PartsStateError);
    expect(error.message).toMatch(/records an upload to .*other\.bin/);
    await writeFile(stateFile, '{"version": 2}');
    await expect(readUploadState(stateFile)).rejects.toThrow(/not an upload state file/);
    expect(await readUploadState(join(dir, 'absent.json'))).toBeUndefined();
  });
});
