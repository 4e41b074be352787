import { afterEach, beforeEach, describe, expect, test } from '@jest/globals';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import got from 'got';
import { startReceiveServer, type ReceiveServer } from '../../cli/receive-server.js';
import { runCli, spawnCli } from '../helpers/cli.js';
import { useCliFixture } from '../helpers/cli-fixture.js';
import { pattern } from '../helpers/data.js';
import { sha256 } from '../helpers/sink-server.js';

const data = pattern(500_000);
const fx = useCliFixture(data, { sink: false });

describe('bhw receive stores exactly what it got', () => {
  let server: ReceiveServer;
  let log: string[];
  beforeEach(async () => {
    log = [];
    server = await startReceiveServer({ port: 0, dir: join(fx.dir, 'store'), log: (line) => log.push(line) });
  });
  afterEach(async () => {
    await server.close();
  });

  const stored = async (name: string): Promise<Buffer> => readFile(join(server.dir, name));

  test.each([
    ['chunked', []],
    ['sized', ['--content-length']],
  ])('stream mode, %s', async (_name, flags) => {
    const result = await runCli([...flags, '--sha256', '--json', '--high-water-mark', '64KiB', fx.file, `${server.url}/backups`]);

    expect(result.code).toBe(0);
    const summary = JSON.parse(result.stdout) as { sha256: string; body: string };
    expect(JSON.parse(summary.body)).toEqual({ bytes: data.length, sha256: sha256(data), file: 'stream-1.bin' });
    expect(summary.sha256).toBe(sha256(data));
    expect(sha256(await stored('stream-1.bin'))).toBe(sha256(data));
    expect(log).toEqual([`stream POST /backups: ${data.length} bytes, sha256 ${sha256(data)} -> stream-1.bin`]);
  });

  test('stdin in stream mode', async () => {
    const result = await runCli(['-', server.url], { input: data });

    expect(result.code).toBe(0);
    expect(sha256(await stored('stream-1.bin'))).toBe(sha256(data));
  });

  test('batch mode with concurrency and gzip: the batches make the whole input, in Batch-Offset order', async () => {
    const result = await runCli([
      '--json',
      '--mode',
      'batch',
      '--concurrency',
      '4',
      '--compress',
      'gzip',
      '--high-water-mark',
      '32KiB',
      fx.file,
      `${server.url}/logs`,
    ]);

    expect(result.code).toBe(0);
    const { body } = JSON.parse(result.stdout) as { body: string };
    const { file: name } = JSON.parse(body) as { file: string };
    expect(name).toMatch(/^batch-[\w-]+\.bin$/);
    expect(sha256(await stored(name))).toBe(sha256(data));
    const sizes = log.map((line) => Number(/: (\d+) bytes/.exec(line)![1]));
    expect(sizes.reduce((sum, size) => sum + size, 0)).toBe(data.length);
    expect(Math.max(...sizes)).toBeLessThanOrEqual(32768);
  });

  test('batch requests: a repeated Idempotency-Key is answered 200 and not stored again', async () => {
    const send = (sequence: number, offset: number, body: Buffer, key = `upload1-${sequence}`, gzip = false) =>
      got
        .post(`${server.url}/events`, {
          body: gzip ? gzipSync(body) : body,
          headers: {
            'batch-sequence': String(sequence),
            'batch-offset': String(offset),
            'idempotency-key': key,
            ...(gzip ? { 'content-encoding': 'gzip' } : {}),
          },
          retry: { limit: 0 },
        })
        .json<Record<string, unknown>>();
    const parts = [Buffer.from('first record\n'), Buffer.from('second record\n'), Buffer.from('third\n')];
    // Out of order, and the middle one twice: the duplicate carries other bytes to show it is dropped.
    const third = await send(2, parts[0]!.length + parts[1]!.length, parts[2]!, undefined, true);
    const first = await send(0, 0, parts[0]!);
    const second = await send(1, parts[0]!.length, parts[1]!);
    const repeat = await send(1, parts[0]!.length, Buffer.from('SECOND RECORD\n'));

    expect(first).toEqual({ bytes: parts[0]!.length, sha256: sha256(parts[0]!), file: 'batch-upload1.bin', sequence: 0 });
    expect(third).toMatchObject({ bytes: parts[2]!.length, sha256: sha256(parts[2]!) });
    expect(repeat).toEqual({ ...second, duplicate: true });
    expect((await stored('batch-upload1.bin')).toString()).toBe(Buffer.concat(parts).toString());
    expect(log.filter((line) => line.includes('duplicate'))).toEqual(['batch 1 at 13: duplicate Idempotency-Key upload1-1, dropped']);
  });

  test('tus behind a TLS-terminating proxy: a creation with X-Forwarded-Proto/-Host gets an https Location', async () => {
    expect(server.tus).toBe(true);
    const created = await got.post(`${server.url}/tus`, {
      headers: { 'tus-resumable': '1.0.0', 'upload-length': '10', 'x-forwarded-proto': 'https', 'x-forwarded-host': 'uploads.example:8443' },
      throwHttpErrors: false,
    });
    expect(created.statusCode).toBe(201);
    expect(created.headers.location).toMatch(/^https:\/\/uploads\.example:8443\/tus\/\w+$/);
  });

  test('tus mode through @tus/server: the file store holds the exact upload', async () => {
    expect(server.tus).toBe(true);
    const result = await runCli(['--json', '--mode', 'tus', '--high-water-mark', '64KiB', fx.file, `${server.url}/tus`]);

    expect(result.code).toBe(0);
    const summary = JSON.parse(result.stdout) as { sha256: string; uploadUrl: string; body: string; mode: string };
    expect(summary.mode).toBe('tus');
    expect(summary.uploadUrl).toMatch(new RegExp(`^${server.url}/tus/\\w+$`));
    const id = summary.uploadUrl.split('/').at(-1)!;
    expect(JSON.parse(summary.body)).toEqual({ bytes: data.length, sha256: sha256(data), file: `tus/${id}` });
    expect(sha256(await stored(`tus/${id}`))).toBe(sha256(data));
    expect(log).toEqual([`tus /tus/${id} (data.bin): ${data.length} bytes, sha256 ${sha256(data)} -> tus/${id}`]);

    // Resuming an upload that is already complete sends nothing and succeeds.
    const again = await runCli(['--json', '--resume', summary.uploadUrl, fx.file, `${server.url}/tus`]);
    expect(again.code).toBe(0);
    expect(JSON.parse(again.stdout)).toMatchObject({ bytes: 0, offset: data.length, uploadUrl: summary.uploadUrl });
    expect(sha256(await stored(`tus/${id}`))).toBe(sha256(data));
  });

  test('a batch without Batch-Offset is refused; keys of other clients group batches by path', async () => {
    const bad = await got.post(`${server.url}/events`, { body: 'x', headers: { 'batch-sequence': '0' }, throwHttpErrors: false });
    expect(bad.statusCode).toBe(400);
    const answer = await got
      .post(`${server.url}/team/events`, { body: 'hello\n', headers: { 'batch-sequence': '0', 'batch-offset': '0', 'idempotency-key': 'opaque' } })
      .json<{ file: string }>();
    expect(answer.file).toBe('batch-team_events.bin');
    expect((await stored(answer.file)).toString()).toBe('hello\n');
  });

  test('other methods are refused with 405', async () => {
    const response = await got(server.url, { throwHttpErrors: false });
    expect(response.statusCode).toBe(405);
    expect(response.headers.allow).toBe('POST, PUT, PATCH');
  });
});

describe('bhw receive as a command', () => {
  test('a port in use: exit 1 with the reason', async () => {
    const taken = await startReceiveServer({ port: 0, dir: join(fx.dir, 'store'), log: () => {} });
    const result = await runCli(['receive', '--port', new URL(taken.url).port, '--dir', join(fx.dir, 'store')]);
    await taken.close();

    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^bhw receive: cannot start: listen EADDRINUSE/);
  });

  test('prints its URL, logs one line per upload, stores it, and closes cleanly on SIGTERM', async () => {
    const store = join(fx.dir, 'store');
    const receiver = spawnCli(['receive', '--port', '0', '--dir', store]);
    const [, url] = await receiver.waitFor('stdout', /listening on (http:\/\/127\.0\.0\.1:\d+) /);

    const upload = await runCli([fx.file, `${url}/x`]);
    expect(upload.code).toBe(0);
    await receiver.waitFor('stderr', /stream POST \/x: .*\n/);
    receiver.child.kill('SIGTERM');
    const result = await receiver.exited;

    expect(result.code).toBe(0);
    expect(result.stderr).toBe(`stream POST /x: ${data.length} bytes, sha256 ${sha256(data)} -> stream-1.bin\nbhw receive: SIGTERM, closed\n`);
    expect(await readdir(store)).toEqual(['stream-1.bin', 'tus']);
    expect(sha256(await readFile(join(store, 'stream-1.bin')))).toBe(sha256(data));
  });
});
