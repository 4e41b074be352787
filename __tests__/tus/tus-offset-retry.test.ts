import { afterEach, describe, expect, test } from '@jest/globals';
import { fetchTusOffset } from '../../lib/index.js';
import { freePort } from '../helpers/free-port.js';
import { startSink, type Sink } from '../helpers/sink-server.js';
import { watchTimers } from '../helpers/timers.js';

/** A tus server's HEAD answers in turn: a status to fail with (and its Retry-After), or the upload's state. */
type HeadAnswer = { status: number; retryAfter?: string } | { offset: number };

async function headServer(answers: HeadAnswer[]): Promise<Sink & { heads: () => number }> {
  let heads = 0;
  const sink = await startSink((request, response) => {
    request.resume();
    const answer = answers[Math.min(heads++, answers.length - 1)]!;
    if ('offset' in answer) response.writeHead(200, { 'tus-resumable': '1.0.0', 'upload-offset': String(answer.offset), 'upload-length': '1000' }).end();
    else response.writeHead(answer.status, answer.retryAfter ? { 'retry-after': answer.retryAfter } : {}).end();
    return undefined;
  });
  return Object.assign(sink, { heads: () => heads });
}

describe('fetchTusOffset retries by the library engine, not got', () => {
  let server: (Sink & { heads: () => number }) | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  test('a 503 is retried (Retry-After 0) and the offset comes from the next HEAD', async () => {
    server = await headServer([{ status: 503, retryAfter: '0' }, { offset: 400 }]);
    await expect(fetchTusOffset(`${server.url}/files/1`)).resolves.toEqual({ offset: 400, length: 1000 });
    expect(server.heads()).toBe(2);
  });

  test('retry.limit 0: one HEAD, and the 503 is the error', async () => {
    server = await headServer([{ status: 503, retryAfter: '0' }, { offset: 400 }]);
    await expect(fetchTusOffset(`${server.url}/files/1`, { retry: { limit: 0 } })).rejects.toMatchObject({ code: 'ERR_BHW_HTTP_STATUS', statusCode: 503 });
    expect(server.heads()).toBe(1);
  });

  test('a refused connection with retry.limit 0 fails at once with its cause', async () => {
    const port = await freePort();
    await expect(fetchTusOffset(`http://127.0.0.1:${port}/files/1`, { retry: { limit: 0 } })).rejects.toMatchObject({
      code: 'ERR_BHW_NETWORK',
      causeCode: 'ECONNREFUSED',
    });
  });

  test('an unknown retry field is refused before any request', async () => {
    server = await headServer([{ offset: 0 }]);
    await expect(fetchTusOffset(`${server.url}/files/1`, { retry: { limt: 0 } as never })).rejects.toThrow(
      "Unknown option 'retry.limt' (did you mean 'retry.limit'?)",
    );
    expect(server.heads()).toBe(0);
  });

  test('the signal stops the wait for a retry and leaves no timer', async () => {
    server = await headServer([{ status: 503, retryAfter: '30' }, { offset: 400 }]);
    const controller = new AbortController();
    const timers = watchTimers();
    try {
      void timers.armed((ms) => Math.round(ms) === 30_000).then(() => controller.abort());
      await expect(fetchTusOffset(`${server.url}/files/1`, { signal: controller.signal })).rejects.toMatchObject({ name: 'AbortError' });
      expect(timers.pending()).toEqual([]);
      expect(server.heads()).toBe(1);
    } finally {
      timers.restore();
    }
  });
});
