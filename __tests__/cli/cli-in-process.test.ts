/**
 * The same command line run in-process through `main(argv, io)`, with
 * in-memory streams: quicker than a child process, and it counts towards
 * coverage. The child-process tests (cli-*.test.ts) remain the reference for
 * what a user sees.
 */
import { afterEach, describe, expect, test } from '@jest/globals';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import got from 'got';
import { main } from '../../cli/main.js';
import { BufferedHttpWritable } from '../../lib/index.js';
import { Sha256Transform, ShortInputError } from '../../cli/sha256-transform.js';
import { useCliFixture } from '../helpers/cli-fixture.js';
import { capture } from '../helpers/cli-in-process.js';
import { pattern } from '../helpers/data.js';
import { readBody, sha256, startSink, type Sink } from '../helpers/sink-server.js';
import { startTusServer } from '../helpers/tus-server.js';

let sink: Sink | undefined;
const data = pattern(200_000);
const fx = useCliFixture(data, { sink: false });

afterEach(async () => {
  await sink?.close();
  sink = undefined;
});

describe('main() in-process', () => {
  test('--help and --version', async () => {
    const help = capture();
    expect(await main(['--help'], help.io)).toBe(0);
    expect(help.stdout()).toMatch(/^Usage: bhw/);
    const version = capture();
    expect(await main(['--version'], version.io)).toBe(0);
    expect(version.stdout()).toMatch(/^\d+\.\d+\.\d+/);
  });

  test('a file with --json and --progress', async () => {
    sink = await startSink();
    const out = capture();
    expect(await main(['--sha256', '--json', '--progress', '--high-water-mark', '64KiB', fx.file, sink.url], out.io)).toBe(0);
    expect(JSON.parse(out.stdout())).toMatchObject({ bytes: data.length, sha256: sha256(data), statusCode: 200, mode: 'stream' });
    expect(out.stderr()).toMatch(/\[=+\] 100% \| 195\.3 KiB sent/);
  });

  test('stdin on a terminal: the bar shows without --progress and is cleared at the end', async () => {
    sink = await startSink();
    const out = capture({ stdin: Readable.from([data]), tty: true });
    expect(await main(['-', sink.url], out.io)).toBe(0);
    expect(sink.received[0]!.sha256).toBe(sha256(data));
    expect(out.stderr()).toMatch(/0 B sent, 0 B acknowledged \| /);
    expect(out.stderr()).toMatch(/bhw: uploaded 200000 bytes/);
  });

  test('a 500: exit 1 with how far it got', async () => {
    sink = await startSink((request, response) => {
      void readBody(request).then(() => response.writeHead(500).end('nope'));
    });
    const out = capture();
    expect(await main([fx.file, sink.url], out.io)).toBe(1);
    expect(out.stderr()).toMatch(/^bhw: upload failed: Server answered 500 Internal Server Error: nope \(sent \d+ of 200000 bytes, 0 acknowledged\)\n$/);
  });

  test.each([
    [['--bogus', 'f', 'http://127.0.0.1:9/'], /unknown option --bogus; see bhw --help/],
    [['FILE', 'http://127.0.0.1:9/', '--concurrency', '0'], /--concurrency must be an integer of at least 1 or auto, received "0"/],
    [['--mode', 'ftp', 'FILE', 'http://127.0.0.1:9/'], /--mode must be stream, batch, tus, s3 or azure-blob, received "ftp"/],
    [['--flush-interval', '10', 'FILE', 'http://127.0.0.1:9/'], /'flushInterval' does not apply to mode 'stream'/],
    // Batch mode builds the Writable itself: the library's option check reaches the user the same way.
    [['--mode', 'batch', '--compress', 'br', 'FILE', 'http://127.0.0.1:9/'], /compress/],
    [['receive', 'extra'], /bhw receive takes no arguments, received "extra"/],
    [['--resume', 'http://127.0.0.1:9/tus/1', '--mode', 'stream', 'FILE', 'http://127.0.0.1:9/'], /--resume applies to --mode tus, s3 and azure-blob only/],
  ])('usage error %j', async (args, message) => {
    const out = capture();
    expect(
      await main(
        args.map((arg) => arg.replace('FILE', fx.file)),
        out.io,
      ),
    ).toBe(2);
    expect(out.stderr()).toMatch(message);
  });

  test('tus: a refused PATCH prints the resume command, with secrets redacted', async () => {
    sink = await startSink((request, response) => {
      void readBody(request).then(() => {
        if (request.method === 'POST') response.writeHead(201, { location: '/files/abc', 'tus-resumable': '1.0.0' }).end();
        else response.writeHead(403, { 'tus-resumable': '1.0.0' }).end('no');
      });
    });
    const out = capture();
    const args = ['--mode', 'tus', '-H', 'Authorization: Bearer s3cret', fx.file, `${sink.url}/files`];
    expect(await main(args, out.io)).toBe(1);
    const lines = out.stderr().split('\n');
    expect(lines[0]).toMatch(
      /^bhw: upload failed: Server answered 403 Forbidden: no \(sent \d+ of 200000 bytes, 0 acknowledged; the server holds 0 bytes of the upload\)$/,
    );
    expect(lines[1]).toBe(`bhw: to continue: bhw --resume ${sink.url}/files/abc --mode tus -H 'Authorization: [REDACTED]' ${fx.file} ${sink.url}/files`);
    expect(lines[2]).toBe('bhw: (fill in the values shown as [REDACTED])');
  });

  test('--resume of a file: one HEAD before the first PATCH, the stored upload is exact', async () => {
    const tus = await startTusServer();
    try {
      const controller = new AbortController();
      const first = new BufferedHttpWritable(tus.url, { mode: 'tus', highWaterMark: 64 * 1024, signal: controller.signal });
      first.on('progress', (progress) => {
        if (progress.bytesAcknowledged > 0) controller.abort();
      });
      await expect(pipeline(Readable.from([data]), first)).rejects.toMatchObject({ name: 'AbortError' });
      const uploadUrl = first.uploadUrl!;

      const out = capture();
      expect(await main(['--resume', uploadUrl, '-H', 'x-run: resume', '--high-water-mark', '64KiB', fx.file, tus.url], out.io)).toBe(0);
      const methods = tus.requests.filter((request) => request.headers['x-run'] === 'resume').map((request) => request.method);
      expect(methods.slice(0, methods.indexOf('PATCH'))).toEqual(['HEAD']);
      expect(methods.filter((method) => method === 'HEAD')).toHaveLength(1);
      expect((await tus.stored(uploadUrl)).sha256).toBe(sha256(data));
    } finally {
      await tus.close();
    }
  });

  test('--resume against a server that is not there: exit 1', async () => {
    const out = capture();
    expect(await main(['--resume', 'http://127.0.0.1:9/files/abc', '--retry', '0', fx.file, 'http://127.0.0.1:9/files'], out.io)).toBe(1);
    expect(out.stderr()).toMatch(/^bhw: cannot resume http:\/\/127\.0\.0\.1:9\/files\/abc: Connection failed \(ECONNREFUSED\)/);
  });

  test('--resume with a file of another length than the upload: exit 2', async () => {
    sink = await startSink((_request, response) => {
      response.writeHead(200, { 'upload-offset': '10', 'upload-length': '5', 'tus-resumable': '1.0.0' }).end();
    });
    const out = capture();
    expect(await main(['--resume', `${sink.url}/files/abc`, fx.file, `${sink.url}/files`], out.io)).toBe(2);
    expect(out.stderr()).toBe(`bhw: ${fx.file} has 200000 bytes, but the upload being resumed is 5 bytes long\n`);
  });

  test('SIGINT while the server stalls: exit 130', async () => {
    let arrived!: () => void;
    const requestArrived = new Promise<void>((resolve) => (arrived = resolve));
    sink = await startSink(() => arrived());
    const out = capture();
    const exited = main([fx.file, sink.url], out.io);
    await requestArrived;
    process.emit('SIGINT', 'SIGINT');
    expect(await exited).toBe(130);
    expect(out.stderr()).toMatch(/^bhw: interrupted \(sent \d+ bytes, 0 acknowledged\)\n$/);
  });

  test('a missing file and a directory: exit 2', async () => {
    const missing = capture();
    expect(await main([join(fx.dir, 'nope.bin'), 'http://127.0.0.1:9/'], missing.io)).toBe(2);
    expect(missing.stderr()).toMatch(/cannot read .*nope\.bin: no such file/);
    const directory = capture();
    expect(await main([fx.dir, 'http://127.0.0.1:9/'], directory.io)).toBe(2);
    expect(directory.stderr()).toMatch(/it is a directory/);
  });

  test('receive: serves until SIGTERM', async () => {
    const out = capture();
    const store = join(fx.dir, 'store');
    const exited = main(['receive', '--port', '0', '--dir', store], out.io);
    const [, url] = await out.waitForStdout(/listening on (\S+) /);
    const answer = await got.post(`${url}/x`, { body: data }).json<{ sha256: string; file: string }>();
    expect(answer.sha256).toBe(sha256(data));
    process.emit('SIGTERM', 'SIGTERM');
    expect(await exited).toBe(0);
    expect(sha256(await readFile(join(store, answer.file)))).toBe(sha256(data));
    expect(out.stderr()).toMatch(/^stream POST \/x: 200000 bytes, .*\nbhw receive: SIGTERM, closed\n$/);
  });
});

describe('Sha256Transform', () => {
  test('skips the first bytes across chunks, hashing only what it passes on', async () => {
    const hasher = new Sha256Transform({ skip: 5 });
    const out: Buffer[] = [];
    for await (const chunk of Readable.from([Buffer.from('abc'), Buffer.from('defgh'), Buffer.from('ij')]).pipe(hasher)) out.push(chunk as Buffer);
    expect(Buffer.concat(out).toString()).toBe('fghij');
    expect(hasher.bytes).toBe(5);
    expect(hasher.digest()).toBe(sha256('fghij'));
  });

  test('input shorter than the skip fails with ShortInputError', async () => {
    const hasher = new Sha256Transform({ skip: 10 });
    const read = async (): Promise<void> => {
      for await (const _chunk of Readable.from([Buffer.from('abc')]).pipe(hasher)) void _chunk;
    };
    await expect(read()).rejects.toThrow(ShortInputError);
  });
});
