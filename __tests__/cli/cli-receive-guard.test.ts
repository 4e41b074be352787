/**
 * `bhw receive` faces clients it cannot trust: each test is an attack on the
 * real command (a child process), and checks it is refused or made harmless.
 */
import { describe, expect, test } from '@jest/globals';
import { readdir, stat } from 'node:fs/promises';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import got from 'got';
import { runCli, spawnCli, type CliProcess } from '../helpers/cli.js';
import { useCliFixture } from '../helpers/cli-fixture.js';
import { pattern } from '../helpers/data.js';

const LIMIT = 1024;
const fx = useCliFixture(pattern(LIMIT + 1), { sink: false });

/** `bhw receive` on a free port storing under `<fx.dir>/store`, once it says where it listens. */
async function startReceiver(...flags: string[]): Promise<{ receiver: CliProcess; url: string; store: string }> {
  const store = join(fx.dir, 'store');
  const receiver = spawnCli(['receive', '--port', '0', '--dir', store, ...flags]);
  const [, url] = await receiver.waitFor('stdout', /listening on (http:\/\/127\.0\.0\.1:\d+) /);
  return { receiver, url: url!, store };
}

/** Every file under `dir` with its size (a sparse file counts at its apparent size). */
async function sizes(dir: string): Promise<Record<string, number>> {
  const result: Record<string, number> = {};
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (entry.isFile()) result[join(entry.parentPath, entry.name).slice(dir.length + 1)] = (await stat(join(entry.parentPath, entry.name))).size;
  }
  return result;
}

/** Sends the headers and `body` without ending the request, and resolves with the answer the server gives meanwhile. */
function answerBeforeEnd(url: string, headers: Record<string, string>, body: Buffer): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const request = httpRequest(url, { method: 'POST', headers });
    request.on('response', (response) => {
      response.resume();
      resolve(response);
      request.destroy();
    });
    request.on('error', reject);
    request.write(body);
  });
}

const batch = (sequence: number, offset: number, key = `upload-${sequence}`) => ({
  'batch-sequence': String(sequence),
  'batch-offset': String(offset),
  'idempotency-key': key,
});

describe('bhw receive refuses uploads larger than --max-bytes with 413', () => {
  test('by default too: a batch at Batch-Offset 10^12 is refused at once and makes no file', async () => {
    const { url, store } = await startReceiver();
    const answer = await got.post(`${url}/logs`, { headers: batch(0, 1e12), body: 'a record\n', throwHttpErrors: false, retry: { limit: 0 } });

    expect(answer.statusCode).toBe(413);
    expect(await sizes(store)).toEqual({});
  });

  test('a batch whose body would carry its file past the limit', async () => {
    const { receiver, url, store } = await startReceiver('--max-bytes', '1KiB');
    const within = await got.post(`${url}/logs`, { headers: batch(0, 0), body: pattern(1000), retry: { limit: 0 } });
    const over = await got.post(`${url}/logs`, { headers: batch(1, 1000), body: pattern(100), throwHttpErrors: false, retry: { limit: 0 } });

    expect(within.statusCode).toBe(200);
    expect(over.statusCode).toBe(413);
    expect(over.body).toBe(`bhw receive takes uploads of at most ${LIMIT} bytes (--max-bytes)\n`);
    expect(await sizes(store)).toEqual({ 'batch-upload.bin': 1000 });
    await receiver.waitFor('stderr', /batch 1 at 1000: refused with 413, larger than --max-bytes 1024\n/);
  });

  test('a chunked stream upload, as soon as its body passes the limit: nothing is kept', async () => {
    const { url, store } = await startReceiver('--max-bytes', '1KiB');
    const answer = await answerBeforeEnd(`${url}/big`, { 'transfer-encoding': 'chunked' }, pattern(LIMIT + 1));

    expect(answer.statusCode).toBe(413);
    expect(await sizes(store)).toEqual({});
  });

  test('a gzip batch whose decoded bytes pass the limit, from a client still sending: 413 at once, nothing kept', async () => {
    const { url, store } = await startReceiver('--max-bytes', '1KiB');
    const body = gzipSync(pattern(100 * LIMIT));
    const answer = await answerBeforeEnd(`${url}/logs`, { ...batch(0, 0), 'content-encoding': 'gzip', 'transfer-encoding': 'chunked' }, body.subarray(0, -10));

    expect(answer.statusCode).toBe(413);
    expect(await sizes(store)).toEqual({});
  });

  test('a sized stream upload, at once from its Content-Length', async () => {
    const { url, store } = await startReceiver('--max-bytes', '1KiB');
    const answer = await answerBeforeEnd(`${url}/big`, { 'content-length': String(1e12) }, Buffer.from('start'));

    expect(answer.statusCode).toBe(413);
    expect(await sizes(store)).toEqual({});
  });

  test('an upload of exactly the limit is taken', async () => {
    const { url } = await startReceiver('--max-bytes', '1KiB');
    const answer = await got.post(`${url}/exact`, { body: pattern(LIMIT), retry: { limit: 0 } }).json<{ bytes: number }>();
    expect(answer.bytes).toBe(LIMIT);
  });

  test('tus: a creation declaring a larger Upload-Length, and a bhw upload of unknown length that grows past it', async () => {
    const { url, store } = await startReceiver('--max-bytes', '1KiB');
    const created = await got.post(`${url}/tus`, {
      headers: { 'tus-resumable': '1.0.0', 'upload-length': String(LIMIT + 1) },
      throwHttpErrors: false,
      retry: { limit: 0 },
    });
    expect(created.statusCode).toBe(413);

    // Without --content-length, bhw creates the upload with a deferred length and sends it in PATCHes.
    const upload = await runCli(['--mode', 'tus', '--retry', '0', fx.file, `${url}/tus`]);
    expect(upload.code).toBe(1);
    expect(upload.stderr).toMatch(/413/);
    expect(Object.values(await sizes(store)).every((size) => size <= LIMIT)).toBe(true);
  });
});

describe('bhw receive remembers a bounded number of Idempotency-Keys', () => {
  test('with --max-keys 3, the least recently seen key is forgotten: its batch is stored again', async () => {
    const { url } = await startReceiver('--max-keys', '3');
    const send = (key: string, body: string) =>
      got.post(`${url}/logs`, { headers: batch(0, 0, key), body, retry: { limit: 0 } }).json<{ duplicate?: boolean; sha256: string }>();
    for (const key of ['a', 'b', 'c']) await send(key, `first ${key}\n`);
    // Seen again: "a" becomes the most recent, so "b" is now the oldest.
    expect(await send('a', 'again a\n')).toMatchObject({ duplicate: true });
    await send('d', 'first d\n');

    expect(await send('b', 'again b\n')).not.toHaveProperty('duplicate');
    expect(await send('a', 'once more a\n')).toMatchObject({ duplicate: true });
  });
});

describe('bhw receive prints untrusted values harmlessly', () => {
  test('a tus filename with a newline and ANSI escapes is printed escaped: no forged line, no escape reaches the terminal', async () => {
    const { receiver, url } = await startReceiver();
    const filename = 'report.txt\nstream POST /forged: 1 bytes, sha256 0 -> stream-9.bin\x1b[31m\u202e';
    const created = await got.post(`${url}/tus`, {
      headers: { 'tus-resumable': '1.0.0', 'upload-length': '3', 'upload-metadata': `filename ${Buffer.from(filename).toString('base64')}` },
      retry: { limit: 0 },
    });
    await got.patch(created.headers.location!, {
      headers: { 'tus-resumable': '1.0.0', 'upload-offset': '0', 'content-type': 'application/offset+octet-stream' },
      body: 'abc',
      retry: { limit: 0 },
    });
    const [line] = await receiver.waitFor('stderr', /^tus .*\n/m);

    expect(line).toContain('(report.txt\\nstream POST /forged: 1 bytes, sha256 0 -> stream-9.bin\\x1b[31m\\u202e): 3 bytes');
    expect(receiver.stderr).not.toMatch(/^stream POST \/forged/m);
    expect(receiver.stderr).not.toContain('\x1b');
    expect(receiver.stderr).not.toContain('\u202e');
  });

  test('a secret in the query string is redacted in the log', async () => {
    const { receiver, url } = await startReceiver();
    await got.post(`${url}/upload?token=hunter2secret&part=1`, { body: 'abc', retry: { limit: 0 } });
    const [line] = await receiver.waitFor('stderr', /^stream POST .*\n/m);

    expect(line).toMatch(/^stream POST \/upload\?token=\S+&part=1: 3 bytes/);
    expect(receiver.stderr).not.toContain('hunter2secret');
  });
});
