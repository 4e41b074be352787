/**
 * Secrets never leak (errors never carry Authorization, cookie or URL credential values): whatever the mode and whatever the error
 * — got's own errors wrapped in NetworkError, non-2xx answers, redirects — no
 * error (message, stack, cause, JSON.stringify, util.inspect) and no
 * 'progress' payload holds an Authorization, Cookie or Proxy-Authorization
 * value or a URL's user:password; error body snippets are capped.
 */
import { afterEach, describe, expect, test } from '@jest/globals';
import got from 'got';
import { inspect } from 'node:util';
import {
  BODY_SNIPPET_LIMIT,
  BufferedHttpWritable,
  HttpStatusError,
  NetworkError,
  RedirectError,
  fetchTusOffset,
  type BufferedHttpWritableOptions,
  type UploadMode,
} from '../../lib/index.js';
import type { AnyModeOptions } from '../../lib/types.js';
import { chunksOf, pattern } from '../helpers/data.js';
import { Closer, runUpload } from '../helpers/outcome.js';
import { readBody, startSink } from '../helpers/sink-server.js';
import { startTusServer } from '../helpers/tus-server.js';

const closer = new Closer();
afterEach(() => closer.closeAll());

const SECRET_HEADERS = {
  authorization: 'Bearer sEcReT-aUtH-1111',
  cookie: 'session=sEcReT-cOoKiE-2222',
  'proxy-authorization': 'Basic sEcReT-pRoXy-3333',
};
const USER = 'alice';
const PASSWORD = 'sEcReT-pAsS-4444';
const SECRETS = [
  'sEcReT-aUtH-1111',
  'sEcReT-cOoKiE-2222',
  'sEcReT-pRoXy-3333',
  PASSWORD,
  // got turns URL credentials into a Basic Authorization header.
  Buffer.from(`${USER}:${PASSWORD}`).toString('base64'),
];

/** Every way an error or payload may be shown or serialised. */
function renderings(value: unknown): string[] {
  const shown = [JSON.stringify(value) ?? '', inspect(value, { depth: Infinity, showHidden: true, getters: true })];
  if (value instanceof Error) {
    shown.push(value.message, value.stack ?? '', String(value));
    if (value.cause !== undefined) shown.push(...renderings(value.cause));
  }
  return shown;
}

function expectNoSecrets(value: unknown): void {
  for (const text of renderings(value)) {
    for (const secret of SECRETS) expect(text).not.toContain(secret);
  }
}

/** `url` with user:password added. */
function withCredentials(url: string): string {
  const parsed = new URL(url);
  parsed.username = USER;
  parsed.password = PASSWORD;
  return parsed.href;
}

const modes: UploadMode[] = ['stream', 'batch', 'tus'];
const data = pattern(50_000, 12);
const chunks = chunksOf(data, [4096]);

/** Runs an upload that must fail; checks the error and every 'progress' payload for secrets. */
async function failWithoutLeaking(url: string, options: AnyModeOptions): Promise<Error & Record<string, unknown>> {
  // retry applies to batch and tus only: stream mode refuses it.
  const retry = options.mode === 'stream' ? {} : { retry: { limit: 1, backoffLimit: 2 } };
  const upload = new BufferedHttpWritable(url, { highWaterMark: 8192, ...retry, ...options } as BufferedHttpWritableOptions);
  const progress: unknown[] = [];
  upload.on('progress', (snapshot) => progress.push(snapshot));
  const { error } = await runUpload(upload, chunks);
  expect(error).toBeDefined();
  expectNoSecrets(error);
  expectNoSecrets(progress);
  expectNoSecrets(upload.uploadUrl);
  return error!;
}

describe.each(modes)('%s mode', (mode) => {
  const variants: Array<[string, (url: string) => { url: string; options: AnyModeOptions }]> = [
    ['secret headers in options', (url) => ({ url, options: { mode, headers: SECRET_HEADERS } })],
    ['secret headers on the got instance', (url) => ({ url, options: { mode, got: got.extend({ headers: SECRET_HEADERS }) } })],
    ['user:password in the URL', (url) => ({ url: withCredentials(url), options: { mode } })],
  ];

  test.each(variants)('connection refused (got error wrapped in NetworkError), %s', async (_label, make) => {
    const sink = await startSink();
    const closedUrl = sink.url;
    await sink.close();
    const { url, options } = make(mode === 'tus' ? `${closedUrl}/files` : closedUrl);
    const error = await failWithoutLeaking(url, options);
    expect(error).toBeInstanceOf(NetworkError);
    expect(error.causeCode).toBe('ECONNREFUSED');
    expect(error.cause).toBeInstanceOf(Error);
  });

  test.each(variants)("got's timeout error wrapped in NetworkError, %s", async (_label, make) => {
    const sink = closer.add(await startSink((request) => void request.resume()));
    const { url, options } = make(mode === 'tus' ? `${sink.url}/files` : sink.url);
    const timeouts = got.extend({ timeout: { response: 200 }, ...(options.got ? { headers: SECRET_HEADERS } : {}) });
    const error = await failWithoutLeaking(url, { ...options, got: timeouts });
    expect(error).toMatchObject({ code: 'ERR_BHW_NETWORK', causeCode: 'ETIMEDOUT' });
  });

  test.each(variants)('a 500 answer (HttpStatusError), %s', async (_label, make) => {
    const sink = closer.add(
      await startSink((request, response) => {
        void readBody(request).then(() => {
          response.writeHead(500, { 'set-cookie': 'server=side', 'content-type': 'text/plain' });
          response.end('internal error');
        });
      }),
    );
    const { url, options } = make(sink.url);
    const error = await failWithoutLeaking(url, { ...options, ...(mode === 'stream' ? {} : { retry: { limit: 0 } }) });
    expect(error).toBeInstanceOf(HttpStatusError);
    expect(error.statusCode).toBe(500);
    expect(renderings(error).join('\n')).not.toContain('server=side');
  });

  test.each(variants)('a redirect whose Location carries credentials (RedirectError), %s', async (_label, make) => {
    const sink = closer.add(
      await startSink((request, response) => {
        request.resume();
        response.writeHead(307, { location: `http://bob:${PASSWORD}@127.0.0.1:1/elsewhere` });
        response.end();
      }),
    );
    const { url, options } = make(sink.url);
    const error = await failWithoutLeaking(url, options);
    expect(error).toBeInstanceOf(RedirectError);
    expect(error.location).toBe('http://127.0.0.1:1/elsewhere');
  });

  test('an error body snippet is capped at BODY_SNIPPET_LIMIT bytes, and the message stays short', async () => {
    const huge = 'é'.repeat(100_000);
    const sink = closer.add(
      await startSink((request, response) => {
        void readBody(request).then(() => {
          response.writeHead(400, { 'content-type': 'text/plain; charset=utf-8' });
          response.end(huge);
        });
      }),
    );
    const upload = new BufferedHttpWritable(sink.url, { mode, highWaterMark: 8192 });
    const { error } = await runUpload(upload, chunks);
    expect(error).toBeInstanceOf(HttpStatusError);
    expect(Buffer.byteLength(error!.body as string)).toBeLessThanOrEqual(BODY_SNIPPET_LIMIT);
    expect((error!.body as string).length).toBeGreaterThan(1000);
    expect(error!.message.length).toBeLessThan(1000);
    expect(JSON.stringify(error).length).toBeLessThan(2 * BODY_SNIPPET_LIMIT + 2000);
  });
});

describe('tus upload URLs', () => {
  test('an uploadUrl with credentials is redacted in progress, errors and upload.uploadUrl', async () => {
    const server = closer.add(await startTusServer());
    const first = new BufferedHttpWritable(server.url, { mode: 'tus' });
    await runUpload(first, [pattern(1000)]);
    // Resuming the finished 1000-byte upload with 50 000 more bytes fails; the
    // URL it resumed (with user:password) shows nowhere (failWithoutLeaking checks upload.uploadUrl too).
    const error = await failWithoutLeaking(server.url, { mode: 'tus', uploadUrl: withCredentials(first.uploadUrl!) });
    expect(error.code).toBe('ERR_BHW_CONTENT_LENGTH');
  });

  test('a creation Location with credentials never shows them', async () => {
    const server = closer.add(await startTusServer());
    const front = closer.add(
      await startSink((request, response) => {
        if (request.method === 'POST') {
          response.writeHead(201, { location: withCredentials(`${server.url}/nonexistent`), 'tus-resumable': '1.0.0' });
          response.end();
          return;
        }
        return 'default';
      }),
    );
    const error = await failWithoutLeaking(front.url, { mode: 'tus' });
    expect(error.uploadUrl).toBe(`${server.url}/nonexistent`);
  });

  test('fetchTusOffset errors do not carry credentials', async () => {
    const sink = await startSink();
    const url = `${sink.url}/files/x`;
    await sink.close();
    const error = await fetchTusOffset(withCredentials(url), { headers: SECRET_HEADERS, got: got.extend({ retry: { limit: 0 } }), retry: { limit: 0 } }).catch(
      (reason: unknown) => reason,
    );
    expect(error).toMatchObject({ code: 'ERR_BHW_NETWORK', uploadUrl: url });
    expectNoSecrets(error);
  });
});
