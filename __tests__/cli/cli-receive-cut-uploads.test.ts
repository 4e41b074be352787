import { afterEach, beforeEach, describe, expect, test } from '@jest/globals';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import got from 'got';
import { startReceiveServer, type ReceiveServer } from '../../cli/receive-server.js';
import { pattern } from '../helpers/data.js';
import { sha256 } from '../helpers/sink-server.js';

let dir: string;
let server: ReceiveServer;
let log: string[];
/** Resolves with the first log line matching `pattern`, now or later. */
let logged: (pattern: RegExp) => Promise<string>;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'bhw-receive-cut-'));
  log = [];
  const waiting: Array<{ pattern: RegExp; resolve(line: string): void }> = [];
  logged = (pattern) => {
    const line = log.find((entry) => pattern.test(entry));
    return line !== undefined ? Promise.resolve(line) : new Promise((resolve) => waiting.push({ pattern, resolve }));
  };
  server = await startReceiveServer({
    port: 0,
    dir: join(dir, 'store'),
    log: (line) => {
      log.push(line);
      for (const waiter of waiting.splice(0)) {
        if (waiter.pattern.test(line)) waiter.resolve(line);
        else waiting.push(waiter);
      }
    },
  });
});
afterEach(async () => {
  await server.close();
  await rm(dir, { recursive: true, force: true });
});

/** Sends the start of a body and then cuts the connection, as a client that died mid-upload would. */
async function cutUpload(path: string, headers: Record<string, string>, part: Buffer): Promise<void> {
  const request = httpRequest(`${server.url}${path}`, { method: 'POST', headers });
  request.on('error', () => {});
  await new Promise<void>((resolve) => request.write(part, () => resolve()));
  request.destroy();
}

describe('bhw receive and uploads cut mid-body', () => {
  test('a cut stream upload is logged with how much arrived and where it was kept', async () => {
    await cutUpload('/cut', { 'transfer-encoding': 'chunked' }, pattern(1000));
    const line = await logged(/^stream POST \/cut: failed after/);
    expect(line).toMatch(/^stream POST \/cut: failed after \d+ bytes \(kept in stream-1\.bin\): /);
  });

  test('a cut batch is forgotten, so a retry with the same Idempotency-Key is stored, not dropped as a duplicate', async () => {
    const body = pattern(4000);
    const headers = { 'batch-sequence': '0', 'batch-offset': '0', 'idempotency-key': 'upload-7-0' };
    await cutUpload('/logs', { ...headers, 'content-length': String(body.length) }, body.subarray(0, 1000));
    await logged(/^batch 0 at 0: failed: /);

    const answer = await got.post(`${server.url}/logs`, { headers, body }).json<Record<string, unknown>>();
    expect(answer).toEqual({ bytes: body.length, sha256: sha256(body), file: 'batch-upload-7.bin', sequence: 0 });
    expect(sha256(await readFile(join(server.dir, 'batch-upload-7.bin')))).toBe(sha256(body));
  });
});

describe('bhw receive names a batch file after the path when the key does not name the upload', () => {
  test('no Idempotency-Key, at the root path', async () => {
    const answer = await got.post(`${server.url}/`, { headers: { 'batch-sequence': '0', 'batch-offset': '0' }, body: 'abc' }).json<Record<string, unknown>>();
    expect(answer).toMatchObject({ bytes: 3, file: 'batch-root.bin', sequence: 0 });
  });

  test('a key without the -<sequence> suffix, at a nested path', async () => {
    const first = await got
      .post(`${server.url}/logs/app`, { headers: { 'batch-sequence': '1', 'batch-offset': '3', 'idempotency-key': 'abc' }, body: 'def' })
      .json<Record<string, unknown>>();
    expect(first).toMatchObject({ file: 'batch-logs_app.bin', sequence: 1 });
    const again = await got
      .post(`${server.url}/logs/app`, { headers: { 'batch-sequence': '1', 'batch-offset': '3', 'idempotency-key': 'abc' }, body: 'def' })
      .json<Record<string, unknown>>();
    expect(again).toMatchObject({ file: 'batch-logs_app.bin', duplicate: true });
  });
});

describe('bhw receive closes once, however often close() is called', () => {
  test('a second close() resolves', async () => {
    await server.close();
    await server.close();
    expect(log).toEqual([]);
  });

  test('started with the defaults it picks a free port', async () => {
    const other = await startReceiveServer({ dir: join(dir, 'other') });
    try {
      expect(other.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect(other.url).not.toBe(server.url);
      const response = await got(other.url, { throwHttpErrors: false });
      expect(response.statusCode).toBe(405);
      expect(response.headers.allow).toBe('POST, PUT, PATCH');
    } finally {
      await other.close();
    }
  });
});
