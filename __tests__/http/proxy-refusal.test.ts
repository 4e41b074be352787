/**
 * `throughProxy`: a proxy's refusal is a `ProxyError` with the proxy's status
 * and its URL without credentials, not a network error; it is not retried.
 * Against the loopback forward proxy (CONNECT refused as behind
 * `ConnectPort 443`; 407 to an absolute-form request with wrong credentials).
 */
import { afterEach, describe, expect, test } from '@jest/globals';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import got from 'got';
import { ErrorCodes, ProxyError, throughProxy, uploadFile } from '../../lib/index.js';
import { pattern } from '../helpers/data.js';
import { startForwardProxy, type ForwardProxy } from '../helpers/forward-proxy.js';
import { startSink, type Sink } from '../helpers/sink-server.js';

const data = pattern(100_000);
let proxy: ForwardProxy | undefined;
let sink: Sink | undefined;
let dir: string | undefined;
afterEach(async () => {
  await proxy?.close();
  await sink?.close();
  if (dir) await rm(dir, { recursive: true });
  proxy = sink = dir = undefined;
});

async function fileOf(bytes: Buffer): Promise<string> {
  dir ??= await mkdtemp(join(tmpdir(), 'bhw-proxy-'));
  const path = join(dir, 'data.bin');
  await writeFile(path, bytes);
  return path;
}

/** The proxy URL with `user:password@` in it. */
const withCredentials = (url: string, login: string): URL => new URL(url.replace('http://', `http://${login}@`));

async function failure(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => undefined,
    (error: unknown) => error,
  );
}

describe('a proxy that refuses', () => {
  test.each([[403], [502]])('CONNECT answered %i: ProxyError with that status, the password not in it, one attempt only', async (status) => {
    proxy = await startForwardProxy({ connectStatus: status });
    const instance = throughProxy(got, { https: withCredentials(proxy.url, 'agent:s3cret') });
    const error = await failure(uploadFile(await fileOf(data), 'https://127.0.0.1:9/upload', { got: instance, mode: 'tus', retry: { limit: 3 } }));

    expect(error).toBeInstanceOf(ProxyError);
    expect(error).toMatchObject({ code: ErrorCodes.PROXY, statusCode: status, proxy: `${proxy.url}/`, bytesSent: 0 });
    expect(JSON.stringify(error) + String(error)).not.toContain('s3cret');
    expect(proxy.refused).toBe(1);
  });

  test('407 to an absolute-form request (wrong proxy credentials): ProxyError 407, nothing reaches the server', async () => {
    proxy = await startForwardProxy({ credentials: 'agent:right' });
    sink = await startSink();
    const instance = throughProxy(got, { http: withCredentials(proxy.url, 'agent:wrong-s3cret') });
    const error = await failure(uploadFile(await fileOf(data), sink.url, { got: instance }));

    expect(error).toMatchObject({ code: ErrorCodes.PROXY, statusCode: 407, proxy: `${proxy.url}/` });
    expect((error as Error).message).toBe(`Proxy ${proxy.url}/ refused the request with 407`);
    expect(String((error as Error).stack)).not.toContain('s3cret');
    expect(sink.requestCount).toBe(0);
  });

  test('the right credentials: the body arrives exact through the absolute form, Proxy-Authorization kept from the server', async () => {
    proxy = await startForwardProxy({ credentials: 'agent:right' });
    sink = await startSink();
    const instance = throughProxy(got, { http: withCredentials(proxy.url, 'agent:right'), bypass: (url) => url.hostname === 'example.invalid' });
    const result = await uploadFile(await fileOf(data), `${sink.url}/through?x=1`, { got: instance });

    expect(result.bytesAcknowledged).toBe(data.length);
    expect(proxy.forwarded).toEqual([`${sink.url}/through?x=1`]);
    expect(sink.received[0]!.body.equals(data)).toBe(true);
    expect(sink.received[0]!.headers['proxy-authorization']).toBeUndefined();
    expect(sink.received[0]!.headers.host).toBe(new URL(sink.url).host);
  });
});
