/**
 * bhw through a forward proxy that counts what passes: --proxy, curl's proxy
 * environment variables, NO_PROXY and --noproxy, and proxy credentials that
 * are never printed.
 */
import { afterEach, beforeAll, describe, expect, test } from '@jest/globals';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startReceiveServer } from '../../cli/receive-server.js';
import { runCli } from '../helpers/cli.js';
import { useCliFixture } from '../helpers/cli-fixture.js';
import { pattern } from '../helpers/data.js';
import { startForwardProxy, type ForwardProxy } from '../helpers/forward-proxy.js';
import { sha256 } from '../helpers/sink-server.js';
import { makeCertificates, startHttpsSink, type TestCertificates } from '../helpers/tls.js';

const data = pattern(200_000);
const fx = useCliFixture(data);
let proxy: ForwardProxy;
afterEach(async () => {
  await proxy.close();
});

const target = (): string => `127.0.0.1:${new URL(fx.sink.url).port}`;
const hostOf = (url: string): string => new URL(url).host;

describe('--proxy', () => {
  test.each([
    ['stream', []],
    ['batch', ['--mode', 'batch', '--concurrency', '2', '--high-water-mark', '64KiB']],
  ])('%s mode: every request goes to the proxy in absolute form, as curl sends http (no CONNECT)', async (_mode, args) => {
    proxy = await startForwardProxy();
    const result = await runCli(['--proxy', proxy.url, ...args, fx.file, fx.sink.url]);

    expect(result.code).toBe(0);
    expect(proxy.tunnels).toEqual([]);
    expect(proxy.forwarded.length).toBe(fx.sink.received.length);
    expect(new Set(proxy.forwarded.map(hostOf))).toEqual(new Set([target()]));
    // Batches in flight together may arrive out of order: Batch-Offset puts them back.
    const inOrder = [...fx.sink.received].sort((a, b) => Number(a.headers['batch-offset'] ?? 0) - Number(b.headers['batch-offset'] ?? 0));
    expect(sha256(Buffer.concat(inOrder.map((request) => request.body)))).toBe(sha256(data));
  });

  test('tus mode: creation and every PATCH through the proxy; the stored upload is exact', async () => {
    proxy = await startForwardProxy();
    const server = await startReceiveServer({ port: 0, dir: join(fx.dir, 'store'), log: () => {} });
    try {
      const result = await runCli(['--proxy', proxy.url, '--mode', 'tus', '--json', '--high-water-mark', '64KiB', fx.file, `${server.url}/tus`]);

      expect(result.code).toBe(0);
      const { file } = JSON.parse((JSON.parse(result.stdout) as { body: string }).body) as { file: string };
      expect(sha256(await readFile(join(server.dir, file)))).toBe(sha256(data));
      expect(proxy.tunnels).toEqual([]);
      expect(proxy.forwarded.length).toBeGreaterThan(1);
      expect(new Set(proxy.forwarded.map(hostOf))).toEqual(new Set([new URL(server.url).host]));
    } finally {
      await server.close();
    }
  });

  test('-x with credentials in the URL: sent to the proxy, never printed', async () => {
    proxy = await startForwardProxy({ credentials: 'agent:proxy-s3cret' });
    const withCredentials = proxy.url.replace('http://', 'http://agent:proxy-s3cret@');
    const result = await runCli(['-x', withCredentials, '--json', fx.file, fx.sink.url]);

    expect(result.code).toBe(0);
    expect(proxy.refused).toBe(0);
    expect(fx.sink.received[0]!.sha256).toBe(sha256(data));
    expect(fx.sink.received[0]!.headers['proxy-authorization']).toBeUndefined();
    expect(result.stdout + result.stderr).not.toContain('proxy-s3cret');
  });

  test('wrong proxy credentials: exit 1, and the password is not printed', async () => {
    proxy = await startForwardProxy({ credentials: 'agent:right-s3cret' });
    const result = await runCli([
      '--mode',
      'tus',
      '--retry',
      '0',
      '-x',
      proxy.url.replace('http://', 'http://agent:wrong-s3cret@'),
      fx.file,
      `${fx.sink.url}/files`,
    ]);

    expect(result.code).toBe(1);
    expect(proxy.refused).toBe(1);
    expect(result.stderr).toMatch(/^bhw: upload failed: .*407/);
    expect(result.stdout + result.stderr).not.toMatch(/s3cret/);
  });

  test('--proxy "" ignores the environment', async () => {
    proxy = await startForwardProxy();
    const result = await runCli(['--proxy', '', fx.file, fx.sink.url], { env: { http_proxy: proxy.url } });

    expect(result.code).toBe(0);
    expect(proxy.forwarded).toEqual([]);
  });
});

describe('the proxy environment variables', () => {
  test.each([['http_proxy'], ['HTTP_PROXY']])('%s carries http uploads', async (name) => {
    proxy = await startForwardProxy();
    const result = await runCli([fx.file, fx.sink.url], { env: { [name]: proxy.url } });

    expect(result.code).toBe(0);
    expect(proxy.forwarded.map(hostOf)).toEqual([target()]);
    expect(fx.sink.received[0]!.sha256).toBe(sha256(data));
  });

  test('HTTPS_PROXY is not used for an http URL', async () => {
    proxy = await startForwardProxy();
    const result = await runCli([fx.file, fx.sink.url], { env: { HTTPS_PROXY: proxy.url } });

    expect(result.code).toBe(0);
    expect(proxy.forwarded).toEqual([]);
  });

  test.each<[string, Record<string, string>, string[]]>([
    ['NO_PROXY with the host', { NO_PROXY: 'example.com, 127.0.0.1' }, []],
    ['no_proxy with *', { no_proxy: '*' }, []],
    ['NO_PROXY with the host on another port', { NO_PROXY: '127.0.0.1:1' }, ['--proxy-used']],
    ['--noproxy overrides NO_PROXY', { NO_PROXY: '*' }, ['--noproxy', 'example.com', '--proxy-used']],
  ])('%s', async (_name, env, flags) => {
    proxy = await startForwardProxy();
    const used = flags.includes('--proxy-used');
    const result = await runCli([...flags.filter((flag) => flag !== '--proxy-used'), fx.file, fx.sink.url], { env: { http_proxy: proxy.url, ...env } });

    expect(result.code).toBe(0);
    expect(proxy.forwarded.map(hostOf)).toEqual(used ? [target()] : []);
    expect(fx.sink.received[0]!.sha256).toBe(sha256(data));
  });

  describe('https', () => {
    let certs: TestCertificates;
    beforeAll(() => {
      certs = makeCertificates();
    });

    test('HTTPS_PROXY tunnels TLS to the server, which is verified end to end (--cacert)', async () => {
      proxy = await startForwardProxy();
      const server = await startHttpsSink(certs);
      try {
        const ca = join(fx.dir, 'ca.pem');
        await writeFile(ca, certs.ca);
        const result = await runCli(['--cacert', ca, fx.file, server.url], { env: { HTTPS_PROXY: proxy.url } });

        expect(result.code).toBe(0);
        expect(proxy.tunnels).toEqual([new URL(server.url).host]);
        expect(server.received[0]!.sha256).toBe(sha256(data));
      } finally {
        await server.close();
      }
    });

    test('a proxy refusing CONNECT (403): exit 1 naming the proxy and its status, the server untouched, no password shown', async () => {
      proxy = await startForwardProxy({ connectStatus: 403 });
      const server = await startHttpsSink(certs);
      try {
        const withCredentials = proxy.url.replace('http://', 'http://agent:proxy-s3cret@');
        const result = await runCli(['-k', fx.file, server.url], { env: { HTTPS_PROXY: withCredentials } });

        expect(result.code).toBe(1);
        expect(result.stderr).toContain(`Proxy ${proxy.url}/ refused the request with 403`);
        expect(result.stdout + result.stderr).not.toContain('s3cret');
        expect(server.received).toEqual([]);
      } finally {
        await server.close();
      }
    });

    test('--http2 refuses a proxy from the environment with a usage error', async () => {
      proxy = await startForwardProxy();
      const result = await runCli(['--http2', fx.file, 'https://127.0.0.1:9/'], { env: { HTTPS_PROXY: proxy.url } });

      expect(result.code).toBe(2);
      expect(result.stderr).toBe('bhw: --http2 cannot go through a proxy, and HTTPS_PROXY names one: unset it or list the host in --noproxy\n');
    });
  });
});

describe('the forward proxy helper', () => {
  test('forwards absolute-URI requests too, and counts them', async () => {
    proxy = await startForwardProxy();
    const { request } = await import('node:http');
    const answer = await new Promise<string>((resolve, reject) => {
      const port = new URL(proxy.url).port;
      const outgoing = request({ host: '127.0.0.1', port, method: 'POST', path: `${fx.sink.url}/absolute` }, (response) => {
        let body = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => (body += chunk));
        response.on('end', () => resolve(body));
      });
      outgoing.on('error', reject);
      outgoing.end(data);
    });

    expect(JSON.parse(answer)).toEqual({ bytes: data.length, sha256: sha256(data) });
    expect(proxy.forwarded).toEqual([`${fx.sink.url}/absolute`]);
  });
});
