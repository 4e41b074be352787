/**
 * Redirects: a 307/308 for a body that cannot be replayed is an error that
 * says so (ERR_BHW_REDIRECT, with the redacted Location), in every mode and
 * even when the got instance asks to follow redirects; and credentials are
 * never sent to the other origin — the second server sees no request at all.
 */
import { afterEach, describe, expect, test } from '@jest/globals';
import got from 'got';
import { BufferedHttpWritable, RedirectError, type BufferedHttpWritableOptions, type UploadMode } from '../../lib/index.js';
import { chunksOf, pattern } from '../helpers/data.js';
import { Closer, runUpload } from '../helpers/outcome.js';
import { startSink, type Sink } from '../helpers/sink-server.js';
import { startTusServer } from '../helpers/tus-server.js';

const closer = new Closer();
afterEach(() => closer.closeAll());

const data = pattern(300_000, 13);
const chunks = chunksOf(data, [10_000]);
const AUTH = 'Bearer only-for-the-first-origin';

/** The second origin: records whatever reaches it (nothing should). */
async function otherOrigin(): Promise<Sink> {
  return closer.add(await startSink());
}

/** The first origin: answers `status` pointing at `target` to requests `redirects()` selects. */
async function redirecting(status: number, target: string, redirects: (method: string) => boolean = () => true): Promise<Sink> {
  return closer.add(
    await startSink((request, response) => {
      if (!redirects(request.method ?? '')) return 'default';
      request.resume();
      response.writeHead(status, { location: target });
      response.end();
    }),
  );
}

const modes: UploadMode[] = ['stream', 'batch', 'tus'];

describe.each(modes)('%s mode', (mode) => {
  test.each([307, 308, 301, 302, 303])('a %i is not followed: RedirectError saying why, and the other origin gets nothing', async (status) => {
    const other = await otherOrigin();
    const first = await redirecting(status, `${other.url}/upload`);
    // The caller's instance asks for redirects to be followed: the library still refuses.
    const following = got.extend({ followRedirect: true, headers: { authorization: AUTH } });
    const upload = new BufferedHttpWritable(first.url, {
      mode,
      highWaterMark: 64 * 1024,
      got: following,
      ...(mode === 'stream' ? {} : { retry: { backoffLimit: 2 } }),
    } as BufferedHttpWritableOptions);
    const { error, finished } = await runUpload(upload, chunks);
    expect(finished).toBe(false);
    expect(error).toBeInstanceOf(RedirectError);
    expect(error).toMatchObject({ code: 'ERR_BHW_REDIRECT', statusCode: status, location: `${other.url}/upload`, bytesAcknowledged: 0 });
    expect(error!.message).toMatch(/not followed: the request body cannot be replayed/);
    expect(other.requestCount).toBe(0);
    expect(first.requestCount).toBe(1);
  });

  test('URL credentials are sent to the first origin only', async () => {
    const other = await otherOrigin();
    const first = await redirecting(307, other.url);
    const url = new URL(first.url);
    url.username = 'alice';
    url.password = 'wonderland';
    const { error } = await runUpload(new BufferedHttpWritable(url.href, { mode }), chunks);
    // As text first: on a mismatch jest then prints the error's class, message and cause code, where toBeInstanceOf prints only the class.
    expect(String(error)).toMatch(/^RedirectError: /);
    expect(error).toBeInstanceOf(RedirectError);
    expect(other.requestCount).toBe(0);
  });
});

describe('tus: a redirect after creation', () => {
  test('a PATCH answered 308 fails with RedirectError and the upload URL to resume from; the other origin gets nothing', async () => {
    const other = await otherOrigin();
    const tus = closer.add(await startTusServer());
    // A front that creates uploads on the real tus server and redirects every PATCH.
    const front = closer.add(
      await startSink((request, response) => {
        if (request.method === 'PATCH') {
          request.resume();
          response.writeHead(308, { location: `${other.url}/files/x` });
          response.end();
          return;
        }
        void tus.tus.handle(request, response);
      }),
    );
    const upload = new BufferedHttpWritable(`${front.url}/files`, { mode: 'tus', headers: { authorization: AUTH }, got: got.extend({ followRedirect: true }) });
    const { error } = await runUpload(upload, chunks);
    expect(error).toBeInstanceOf(RedirectError);
    expect(error).toMatchObject({ code: 'ERR_BHW_REDIRECT', statusCode: 308, offset: 0, uploadUrl: upload.uploadUrl });
    expect(other.requestCount).toBe(0);
  });
});
