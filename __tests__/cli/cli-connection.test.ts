/**
 * The connection options read into one got instance, and the same command
 * lines run in-process through `main(argv, io)` (their environment in
 * `io.env`), so they count towards coverage. The child-process tests
 * (cli-timeouts, cli-tls, cli-proxy, cli-http2, cli-auth) remain the
 * reference for what a user sees.
 */
import { afterEach, describe, expect, test } from '@jest/globals';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { parseCliArgs, UsageError, type UploadArgs } from '../../cli/args.js';
import { bypassesProxy, connectionFor, proxySettings } from '../../cli/connection.js';
import { processIo, type CliIo } from '../../cli/io.js';
import { main } from '../../cli/main.js';
import { useCliFixture } from '../helpers/cli-fixture.js';
import { pattern } from '../helpers/data.js';
import { startForwardProxy, type ForwardProxy } from '../helpers/forward-proxy.js';
import { sha256, startSink, type Sink } from '../helpers/sink-server.js';

const url = 'http://127.0.0.1:9/up';
const upload = (...argv: string[]): UploadArgs => parseCliArgs([...argv, 'f', url]) as UploadArgs;

describe('proxySettings: which proxy, as curl picks it', () => {
  test('a bad --proxy is a usage error that does not repeat its password', () => {
    expect(() => upload('--proxy', 'ftp://u:pw-s3cret@p:21')).toThrow(
      new UsageError('--proxy must be an http: or https: URL, received "ftp://[REDACTED]@p:21"'),
    );
  });

  test('--proxy for both schemes; "" for none, whatever the environment says', () => {
    expect(proxySettings(upload('--proxy', 'http://p:3128'), { https_proxy: 'http://other:1' })).toMatchObject({
      http: new URL('http://p:3128'),
      https: new URL('http://p:3128'),
      source: '--proxy',
    });
    expect(proxySettings(upload('--proxy', ''), { http_proxy: 'http://other:1', HTTPS_PROXY: 'http://other:2' })).toEqual({ noProxy: [] });
  });

  test('the variables by scheme, lower case first; a bare host:port is http', () => {
    const settings = proxySettings(upload(), { http_proxy: 'lower:1', HTTP_PROXY: 'http://upper:2', HTTPS_PROXY: 'https://secure:3' });
    expect(settings.http?.href).toBe('http://lower:1/');
    expect(settings.https?.href).toBe('https://secure:3/');
    expect(settings.source).toBe('HTTPS_PROXY');
    expect(proxySettings(upload(), {})).toEqual({ noProxy: [] });
  });

  test('--noproxy wins over no_proxy, which wins over NO_PROXY; entries are trimmed and lower-cased', () => {
    expect(proxySettings(upload('--noproxy', 'A.example, b'), { no_proxy: 'c', NO_PROXY: 'd' }).noProxy).toEqual(['a.example', 'b']);
    expect(proxySettings(upload(), { no_proxy: ' c ,,', NO_PROXY: 'd' }).noProxy).toEqual(['c']);
    expect(proxySettings(upload(), { NO_PROXY: 'd' }).noProxy).toEqual(['d']);
  });

  test('a variable that is not an http(s) URL is a usage error naming it', () => {
    expect(() => proxySettings(upload(), { HTTPS_PROXY: 'socks5://u:pw-s3cret@p:1080' })).toThrow(
      new UsageError('HTTPS_PROXY must be an http: or https: URL, received "socks5://[REDACTED]@p:1080"'),
    );
    expect(() => proxySettings(upload(), { http_proxy: 'http://u:pw-s3cret@[bad' })).toThrow(
      new UsageError('http_proxy is not a valid URL: "http://[REDACTED]@[bad"'),
    );
  });
});

describe('bypassesProxy: NO_PROXY entries', () => {
  test.each<[string, string[], boolean]>([
    ['http://a.example/', ['*'], true],
    ['http://a.example/', ['a.example'], true],
    ['http://sub.a.example/', ['a.example'], true],
    ['http://sub.a.example/', ['.a.example'], true],
    ['http://sub.a.example/', ['*.a.example'], true],
    ['http://nota.example/', ['a.example'], false],
    ['http://a.example:8080/', ['a.example:8080'], true],
    ['http://a.example:8080/', ['a.example:9090'], false],
    ['https://a.example/', ['a.example:443'], true],
    ['http://a.example/', ['a.example:80'], true],
    ['http://[::1]:8080/', ['::1'], true],
    ['http://[::1]:8080/', ['[::1]:8080'], true],
    ['http://127.0.0.1/', [], false],
  ])('%s with %j: %s', (target, noProxy, bypassed) => {
    expect(bypassesProxy(new URL(target), noProxy)).toBe(bypassed);
  });
});

describe('connectionFor: one got instance from the options', () => {
  test('--connect-timeout times DNS, TCP and TLS; --http2; -u adds Basic; nothing else is set', () => {
    const { got, notices } = connectionFor(upload('--connect-timeout', '1.5', '--http2', '-u', 'alice:pw'), {});
    expect(got.defaults.options.timeout).toMatchObject({ lookup: 1500, connect: 1500, secureConnect: 1500 });
    expect(got.defaults.options.http2).toBe(true);
    expect(got.defaults.options.headers.authorization).toBe(`Basic ${Buffer.from('alice:pw').toString('base64')}`);
    expect(notices).toEqual([]);
    expect(connectionFor(upload(), {}).got.defaults.options.hooks.beforeRequest).toEqual([]);
  });

  test('-k turns verification off and says so; --cacert reads the file now', async () => {
    const dir = fx.dir;
    await writeFile(join(dir, 'ca.pem'), 'PEM');
    const { got, notices } = connectionFor(upload('-k', '--cacert', join(dir, 'ca.pem')), {});
    expect(got.defaults.options.https.rejectUnauthorized).toBe(false);
    expect(String(got.defaults.options.https.certificateAuthority)).toBe('PEM');
    expect(notices).toEqual([expect.stringMatching(/^bhw: warning: -k\/--insecure: /)]);
    expect(() => connectionFor(upload('--cacert', dir), {})).toThrow(UsageError);
  });

  test('--http2 with a proxy from the environment, unless NO_PROXY... is refused', () => {
    expect(() => connectionFor(upload('--http2'), { https_proxy: 'http://p:1' })).toThrow(/^--http2 cannot go through a proxy, and https_proxy names one/);
    expect(() => connectionFor(upload('--http2', '--proxy', ''), { https_proxy: 'http://p:1' })).not.toThrow();
  });
});

const data = pattern(100_000);
const fx = useCliFixture(data, { sink: false });

function capture(env: NodeJS.ProcessEnv = {}, stdin: Readable = Readable.from([])): { io: CliIo; stdout(): string; stderr(): string } {
  const text = { stdout: '', stderr: '' };
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  stdout.on('data', (chunk: Buffer) => (text.stdout += chunk.toString()));
  stderr.on('data', (chunk: Buffer) => (text.stderr += chunk.toString()));
  return { io: { stdin, stdout, stderr, env }, stdout: () => text.stdout, stderr: () => text.stderr };
}

describe('main() in-process with the connection options', () => {
  let sink: Sink | undefined;
  let proxy: ForwardProxy | undefined;
  afterEach(async () => {
    await sink?.close();
    await proxy?.close();
    sink = proxy = undefined;
  });

  test('through a proxy from io.env; NO_PROXY bypasses it', async () => {
    sink = await startSink();
    proxy = await startForwardProxy({ credentials: 'u:proxy-s3cret' });
    const env = { http_proxy: proxy.url.replace('http://', 'http://u:proxy-s3cret@') };
    const through = capture(env);
    expect(await main(['--sha256', '--mode', 'batch', '--retry', '1', '--json', fx.file, sink.url], through.io)).toBe(0);
    // An http target: forwarded in absolute form, as curl does, not tunnelled.
    expect(proxy.forwarded).toHaveLength(1);
    expect(proxy.tunnels).toHaveLength(0);
    expect(JSON.parse(through.stdout())).toMatchObject({ sha256: sha256(data) });

    const direct = capture({ ...env, NO_PROXY: '127.0.0.1' });
    expect(await main([fx.file, sink.url], direct.io)).toBe(0);
    expect(proxy.forwarded).toHaveLength(1);
    expect(through.stderr() + direct.stderr()).not.toContain('proxy-s3cret');
  });

  test('--max-time and --stall-timeout against a server that never answers: exit 1 with the option named', async () => {
    sink = await startSink((request) => void request.resume());
    const total = capture();
    expect(await main(['--max-time', '0.2', '--stall-timeout', '0', fx.file, sink.url], total.io)).toBe(1);
    expect(total.stderr()).toMatch(/^bhw: upload failed: the upload took longer than --max-time 0\.2 s \(sent \d+ of 100000 bytes, 0 acknowledged\)\n$/);

    const stalled = capture();
    expect(await main(['--mode', 'tus', '--stall-timeout', '0.2', fx.file, `${sink.url}/files`], stalled.io)).toBe(1);
    expect(stalled.stderr()).toMatch(
      /^bhw: upload failed: no byte sent or acknowledged for 0\.2 s \(--stall-timeout 0\.2; 0 turns it off\) \(sent \d+ of 100000 bytes, 0 acknowledged\)\n$/,
    );
  });

  test('-u and a 401 that echoes it: the password is not printed; -k says so on stderr', async () => {
    sink = await startSink((request, response) => {
      request.resume();
      request.on('end', () => response.writeHead(401).end(`no, ${Buffer.from((request.headers.authorization ?? '').slice(6), 'base64').toString()}`));
    });
    const out = capture();
    expect(await main(['-k', '-u', 'alice:pass-s3cret', '--json', fx.file, sink.url], out.io)).toBe(1);
    expect(out.stderr()).toMatch(/^bhw: warning: -k\/--insecure: .*\nbhw: upload failed: Server answered 401 Unauthorized: no, alice:\[REDACTED\]/);
    expect(out.stdout() + out.stderr()).not.toContain('pass-s3cret');
  });

  test('--retry is the limit of failed attempts: 0 fails on the first 503, 1 recovers from it', async () => {
    let failures = 0;
    sink = await startSink((request, response) => {
      if (request.method === 'POST' && failures++ % 2 === 0) {
        request.resume();
        request.on('end', () => response.writeHead(503).end('busy'));
        return;
      }
      return 'default';
    });
    const none = capture();
    expect(await main(['--mode', 'batch', '--retry', '0', fx.file, sink.url], none.io)).toBe(1);
    expect(none.stderr()).toMatch(/^bhw: upload failed: Server answered 503 Service Unavailable/);

    failures = 0;
    const one = capture();
    expect(await main(['--sha256', '--mode', 'batch', '--retry', '1', '--json', fx.file, sink.url], one.io)).toBe(0);
    expect(JSON.parse(one.stdout())).toMatchObject({ sha256: sha256(data) });
    expect(failures).toBe(2);
  });

  test('a --cacert that cannot be read: exit 2', async () => {
    const out = capture();
    expect(await main(['--cacert', join(fx.dir, 'missing.pem'), fx.file, 'https://127.0.0.1:9/'], out.io)).toBe(2);
    expect(out.stderr()).toMatch(/^bhw: --cacert: cannot read .*missing\.pem: no such file\n$/);
  });
});

describe('processIo', () => {
  test("is the process's own streams and environment", () => {
    expect(processIo.stdout).toBe(process.stdout);
    expect(processIo.stderr).toBe(process.stderr);
    expect(processIo.env).toBe(process.env);
  });
});
