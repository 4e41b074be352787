/**
 * curl's flags, retries, failures in --json and Ctrl-C at every step, run
 * in-process through `main(argv, io)` (counted by coverage). The child-process
 * tests (cli-curl-flags, cli-retries-shown, cli-interrupt-everywhere,
 * cli-receive-keeps) are the reference for what a user sees.
 */
import { afterEach, describe, expect, test } from '@jest/globals';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import got from 'got';
import { main } from '../../cli/main.js';
import { startReceiveServer } from '../../cli/receive-server.js';
import { useCliFixture } from '../helpers/cli-fixture.js';
import { capture } from '../helpers/cli-in-process.js';
import { pattern } from '../helpers/data.js';
import { readBody, sha256, startSink, type Sink } from '../helpers/sink-server.js';

const data = pattern(100_000);
const fx = useCliFixture(data, { sink: false });
let sink: Sink | undefined;

afterEach(async () => {
  await sink?.close();
  sink = undefined;
});

/** Answers the first `refusals` requests `status` (503: with `Retry-After: 0`, retried at once), then stores as usual. */
async function refusing(refusals: number, status = 503, body = 'busy'): Promise<Sink> {
  let refused = 0;
  return startSink((request, response) => {
    if (refused >= refusals) return 'default';
    refused++;
    void readBody(request).then(() => response.writeHead(status, { 'retry-after': '0', 'content-type': 'text/plain' }).end(body));
  });
}

describe('curl flags, in-process', () => {
  test('-v -o: headers on stderr with credentials redacted, the body in the file', async () => {
    sink = await startSink();
    const out = capture();
    const answer = join(fx.dir, 'answer.json');
    const host = sink.url.replace('http://', '');
    expect(await main(['-v', '-u', 'al:s3cret', '-o', answer, '-T', fx.file, `${host}/up?sig=abc123`], out.io)).toBe(0);
    expect(out.stdout()).toBe('');
    expect(out.stderr()).toContain('> POST /up?sig=[REDACTED] HTTP/1.1\n');
    expect(out.stderr()).toContain('\n> authorization: [REDACTED]\n');
    expect(out.stderr()).toContain('< HTTP/1.1 200 OK\n');
    expect(out.stderr()).not.toMatch(/s3cret|abc123/);
    expect(JSON.parse(await readFile(answer, 'utf8'))).toEqual({ bytes: data.length, sha256: sha256(data) });
  });

  test('-o onto a directory: uploaded, but the answer cannot be written (exit 1)', async () => {
    sink = await startSink();
    const out = capture();
    const answer = join(fx.dir, 'taken');
    await mkdir(answer);
    expect(await main(['-o', answer, fx.file, sink.url], out.io)).toBe(1);
    expect(out.stderr()).toMatch(/^bhw: uploaded, but cannot write the answer to .*taken: /);
  });

  test('-o into a directory that is not there: exit 2 before sending', async () => {
    const out = capture();
    expect(await main(['-o', join(fx.dir, 'no', 'answer'), fx.file, 'http://127.0.0.1:9/'], out.io)).toBe(2);
    expect(out.stderr()).toMatch(/-o: cannot write .*: no such directory/);
  });

  test('-f --json: exit 22, the status without the body', async () => {
    sink = await refusing(1, 404, 'no such bucket');
    const out = capture();
    expect(await main(['-f', '--json', fx.file, sink.url], out.io)).toBe(22);
    expect(JSON.parse(out.stdout())).toEqual({
      error: { name: 'HttpStatusError', code: 'ERR_BHW_HTTP_STATUS', statusCode: 404, message: 'Server answered 404 Not Found' },
      exitCode: 22,
      bytesSent: data.length,
      bytesAcknowledged: 0,
    });
    expect(out.stderr()).not.toContain('no such bucket');
  });

  test('-s: a failure says nothing on stderr', async () => {
    sink = await refusing(1, 500);
    const out = capture();
    expect(await main(['-s', fx.file, sink.url], out.io)).toBe(1);
    expect(out.stderr()).toBe('');
  });

  test.each([
    [['--max-tme', '3'], 'unknown option --max-tme (did you mean --max-time?); see bhw --help'],
    [['-z'], 'unknown option -z; see bhw --help'],
    [['--json=yes'], '--json takes no value; see bhw --help'],
    [['--retry'], '--retry needs a value; see bhw --help'],
    [['--high-water-mark', '1.5'], '--high-water-mark must be a whole number of bytes or have a unit (1.5MiB, say), received "1.5"'],
    [['--resume', 'not a url'], '--resume is not a valid URL: "not a url"'],
  ])('usage error %j', async (flags, message) => {
    const out = capture();
    // The flags come last: a string flag without its value must be at the end.
    expect(await main([fx.file, 'http://127.0.0.1:9/', ...flags], out.io)).toBe(2);
    expect(out.stderr()).toBe(`bhw: ${message}\n`);
  });

  test('what parseArgs alone finds (an option as a value) keeps its words and the pointer', async () => {
    const out = capture();
    expect(await main(['--mode', '--json', fx.file, 'http://127.0.0.1:9/'], out.io)).toBe(2);
    expect(out.stderr()).toMatch(/^bhw: .*--mode.*; see bhw --help\n$/);
  });
});

describe('retries, in-process', () => {
  test('on the bar, then the upload succeeds', async () => {
    sink = await refusing(1);
    const out = capture();
    expect(await main(['--mode', 'batch', '--progress', fx.file, sink.url], out.io)).toBe(0);
    expect(out.stderr()).toMatch(/ \| retrying in 1 s, attempt 2\n/);
  });

  test('as lines without a bar; the failure counts the attempts in the line and in --json', async () => {
    sink = await refusing(Infinity);
    const out = capture();
    expect(await main(['--mode', 'batch', '--retry', '1', '--json', fx.file, sink.url], out.io)).toBe(1);
    expect(out.stderr()).toMatch(
      /^bhw: HTTP 503; retrying in 1 s, attempt 2 of 2\nbhw: upload failed: .*\(gave up after 2 failed attempts over \d+ ms: retry\.limit is 1\) .*\)\n$/,
    );
    expect(JSON.parse(out.stdout())).toMatchObject({ attempts: 2, exitCode: 1, error: { statusCode: 503, body: 'busy' } });
  });
});

describe('Ctrl-C, in-process', () => {
  test('batch --spool with a quiet stdin: 130 and the spool line, in --json too', async () => {
    sink = await startSink();
    const spool = join(fx.dir, 'spool');
    // A stdin that never says anything nor ends.
    const out = capture({ stdin: new Readable({ read() {} }) });
    const exited = main(['--mode', 'batch', '--spool', spool, '--json', '-', sink.url], out.io);
    // The spool is opened once the upload is built, after the SIGINT handler.
    await new Promise((resolve) => setImmediate(resolve));
    process.emit('SIGINT', 'SIGINT');
    expect(await exited).toBe(130);
    expect(out.stderr()).toBe(`bhw: interrupted (sent 0 bytes, 0 acknowledged)\nbhw: the spool ${spool} holds nothing more to send\n`);
    expect(JSON.parse(out.stdout())).toMatchObject({ exitCode: 130, error: { message: 'interrupted' }, spool: { dir: spool, bytesStored: 0 } });
  });

  test('tus --resume while the HEAD waits: 130 and the resume command', async () => {
    let asked!: () => void;
    const headArrived = new Promise<void>((resolve) => (asked = resolve));
    sink = await startSink(() => asked());
    const uploadUrl = `${sink.url}/tus/abc`;
    const out = capture();
    const exited = main(['--resume', uploadUrl, '--json', fx.file, `${sink.url}/tus`], out.io);
    await headArrived;
    process.emit('SIGINT', 'SIGINT');
    expect(await exited).toBe(130);
    const command = `bhw --resume ${uploadUrl} --json ${fx.file} ${sink.url}/tus`;
    expect(out.stderr()).toBe(`bhw: interrupted (sent 0 bytes, 0 acknowledged)\nbhw: to continue: ${command}\n`);
    expect(JSON.parse(out.stdout())).toMatchObject({ exitCode: 130, uploadUrl, resume: command });
  });
});

describe('bhw receive keeps what it stored', () => {
  test('a second server on the same directory takes the next free name; GET is 405', async () => {
    const dir = join(fx.dir, 'store');
    const names: string[] = [];
    for (const body of [data, pattern(1000, 2)]) {
      const server = await startReceiveServer({ dir, log: () => {} });
      try {
        names.push((await got.post(`${server.url}/x`, { body }).json<{ file: string }>()).file);
        const get = await got(`${server.url}/tus/anything`, { throwHttpErrors: false, retry: { limit: 0 } });
        expect(get.statusCode).toBe(405);
      } finally {
        await server.close();
      }
    }
    expect(names).toEqual(['stream-1.bin', 'stream-2.bin']);
    expect(sha256(await readFile(join(dir, 'stream-1.bin')))).toBe(sha256(data));
  });
});
