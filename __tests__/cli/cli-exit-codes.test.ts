import { afterEach, describe, expect, test } from '@jest/globals';
import { readFile } from 'node:fs/promises';
import { runCli, spawnCli } from '../helpers/cli.js';
import { useCliFixture } from '../helpers/cli-fixture.js';
import { freePort } from '../helpers/free-port.js';
import { pattern } from '../helpers/data.js';
import { readBody, startSink, type Sink } from '../helpers/sink-server.js';

const data = pattern(300_000);
const fx = useCliFixture(data, { sink: false });

describe('exit 0', () => {
  test('--help prints the usage on stdout', async () => {
    const result = await runCli(['--help']);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^Usage: bhw \[options\] <file\|-> <url>/);
    // Grouped as curl users look for them.
    const groups = result.stdout.split('\n').filter((line) => /^[A-Z][A-Za-z]*:$/.test(line));
    expect(groups).toEqual(['Connection:', 'TLS:', 'Proxy:', 'Auth:', 'Upload:', 'Output:']);
  });

  test('--version prints the package version', async () => {
    const { version } = JSON.parse(await readFile(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
    const result = await runCli(['--version']);
    expect(result.code).toBe(0);
    expect(result.stdout).toBe(`${version}\n`);
  });
});

describe('exit 1: the upload failed, and the message says how far it got', () => {
  let sink: Sink | undefined;
  afterEach(async () => {
    await sink?.close();
    sink = undefined;
  });

  test('the server answers 500', async () => {
    sink = await startSink((request, response) => {
      void readBody(request).then(() => {
        response.writeHead(500, { 'content-type': 'text/plain' });
        response.end('disk full');
      });
    });
    const result = await runCli([fx.file, sink.url]);

    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(/^bhw: upload failed: Server answered 500 Internal Server Error: disk full \(sent \d+ of 300000 bytes, 0 acknowledged\)\n$/);
  });

  test('the connection is refused', async () => {
    const port = await freePort();

    const result = await runCli([fx.file, `http://127.0.0.1:${port}/`]);

    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^bhw: upload failed: Connection failed \(ECONNREFUSED\): .* \(sent 0 of 300000 bytes, 0 acknowledged\)\n$/);
  });
});

describe('exit 2: bad usage or input, named', () => {
  test.each([
    ['an unknown flag', ['--bogus', 'FILE', 'http://127.0.0.1:9/'], /^bhw: unknown option --bogus; see bhw --help\n$/],
    ['a missing file', ['DIR/missing.bin', 'http://127.0.0.1:9/'], /^bhw: cannot read .*missing\.bin: no such file\n$/],
    ['a directory', ['DIR', 'http://127.0.0.1:9/'], /^bhw: cannot read .*: it is a directory\n$/],
    ['a bad URL', ['FILE', 'not a url'], /^bhw: url is not a valid URL: "not a url"\n$/],
    ['a URL that is not http', ['FILE', 'ftp://127.0.0.1/'], /^bhw: url must be an http: or https: URL, received "ftp:\/\/127.0.0.1\/"\n$/],
    ['a bad size', ['--high-water-mark', '12XB', 'FILE', 'http://127.0.0.1:9/'], /^bhw: --high-water-mark must be a size such as .*, received "12XB"\n$/],
    ['a bad header', ['-H', 'no colon', 'FILE', 'http://127.0.0.1:9/'], /^bhw: -H must look like 'Name: value', received "no colon"\n$/],
    ['a missing argument', ['FILE'], /^bhw: expected <file\|-> <url>, received 1 argument\(s\)/],
    ['--content-length with stdin', ['--content-length', '-', 'http://127.0.0.1:9/'], /^bhw: --content-length needs a file/],
    [
      'an option of another mode (library validation)',
      ['--concurrency', '2', 'FILE', 'http://127.0.0.1:9/'],
      /^bhw: 'concurrency' does not apply to mode 'stream' \(it applies to 'batch', 's3', 'azure-blob'\)\n$/,
    ],
    [
      'an unsupported method (library validation)',
      ['-X', 'DELETE', 'FILE', 'http://127.0.0.1:9/'],
      /^bhw: method must be one of 'POST', 'PUT', 'PATCH', received "DELETE"\n$/,
    ],
  ])('%s', async (_name, args, message) => {
    const result = await runCli(args.map((arg) => arg.replace('FILE', fx.file).replace('DIR', fx.dir)));

    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(message);
  });
});

describe('exit 130: Ctrl-C aborts cleanly', () => {
  let sink: Sink;
  afterEach(async () => {
    await sink.close();
  });

  test('SIGINT while the server stalls', async () => {
    let arrived!: () => void;
    const requestArrived = new Promise<void>((resolve) => (arrived = resolve));
    // Never reads the body nor answers: the upload hangs until interrupted.
    sink = await startSink(() => arrived());
    const cli = spawnCli([fx.file, sink.url]);
    await requestArrived;
    cli.child.kill('SIGINT');
    const result = await cli.exited;

    expect(result.code).toBe(130);
    expect(result.stderr).toMatch(/^bhw: interrupted \(sent \d+ bytes, 0 acknowledged\)\n$/);
  });

  test('SIGINT while stdin is still open', async () => {
    let arrived!: () => void;
    const requestArrived = new Promise<void>((resolve) => (arrived = resolve));
    sink = await startSink(() => arrived());
    // Smaller buffers than the input, so the request starts before stdin ends.
    const cli = spawnCli(['--high-water-mark', '64KiB', '-', sink.url], { input: data, keepStdinOpen: true });
    await requestArrived;
    cli.child.kill('SIGINT');
    const result = await cli.exited;

    expect(result.code).toBe(130);
    expect(result.stderr).toMatch(/^bhw: interrupted/);
  });
});
