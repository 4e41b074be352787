import { afterEach, describe, expect, test } from '@jest/globals';
import { pipeline } from 'node:stream/promises';
import { BODY_SNIPPET_LIMIT, BufferedHttpWritable, HttpStatusError, NetworkError, RedirectError } from '../../lib/index.js';
import { pattern, readableOf } from '../helpers/data.js';
import { readBody, recordAndAnswer, startSink, type Sink } from '../helpers/sink-server.js';

const sinks: Sink[] = [];
async function sink(handler?: Parameters<typeof startSink>[0]): Promise<Sink> {
  const started = await startSink(handler);
  sinks.push(started);
  return started;
}
afterEach(async () => {
  await Promise.all(sinks.splice(0).map((s) => s.close()));
});

/** Runs an upload that must fail, and returns its error; fails the test if 'finish' fires. */
async function failedUpload(upload: BufferedHttpWritable, data: Buffer, chunk = 64 * 1024): Promise<Error> {
  let finished = false;
  upload.on('finish', () => (finished = true));
  const chunks: Buffer[] = [];
  for (let i = 0; i < data.length; i += chunk) chunks.push(data.subarray(i, i + chunk));
  const error = await pipeline(readableOf(chunks), upload).then(
    () => undefined,
    (e: Error) => e,
  );
  expect(finished).toBe(false);
  if (!error) throw new Error('upload succeeded where it should have failed');
  return error;
}

describe('finish waits for the server', () => {
  test("'finish' fires only after the 2xx answer", async () => {
    let answer!: () => void;
    const answered = new Promise<void>((resolve) => (answer = resolve));
    let bodyRead!: () => void;
    const bodyWasRead = new Promise<void>((resolve) => (bodyRead = resolve));
    const server = await sink((request, response) => {
      void readBody(request).then(async (body) => {
        bodyRead();
        await answered;
        response.end(`got ${body.length}`);
      });
    });
    const upload = new BufferedHttpWritable(server.url, { highWaterMark: 1024 });
    let finished = false;
    upload.on('finish', () => (finished = true));
    upload.end(pattern(5000));
    await bodyWasRead;
    // The whole body is at the server, which has not answered: not finished yet.
    await new Promise((resolve) => setImmediate(resolve));
    expect(finished).toBe(false);
    expect(upload.bytesAcknowledged).toBe(0);
    answer();
    await new Promise((resolve) => upload.on('finish', resolve));
    expect(upload.bytesAcknowledged).toBe(5000);
    expect(upload.response).toMatchObject({ statusCode: 200, body: 'got 5000' });
  });

  test("'progress' reports sent bytes per buffer and the acknowledgement at the end", async () => {
    const server = await sink();
    const upload = new BufferedHttpWritable(server.url, { highWaterMark: 1000 });
    const events: Array<{ bytesSent: number; bytesAcknowledged: number }> = [];
    upload.on('progress', (p) => events.push({ bytesSent: p.bytesSent, bytesAcknowledged: p.bytesAcknowledged }));
    const responses: number[] = [];
    upload.on('response', (r) => responses.push(r.statusCode));
    await pipeline(readableOf([pattern(2500)]), upload);
    expect(events.at(-1)).toEqual({ bytesSent: 2500, bytesAcknowledged: 2500 });
    expect(events.filter((e) => e.bytesAcknowledged === 0).map((e) => e.bytesSent)).toEqual([2500]);
    expect(responses).toEqual([200]);
  });
});

describe('a non-2xx answer ends in a typed error', () => {
  test('500 with a body: status, body and how far it got', async () => {
    const server = await sink((request, response) => {
      void readBody(request).then(() => {
        response.writeHead(500, { 'content-type': 'text/plain' });
        response.end('disk full');
      });
    });
    const error = await failedUpload(new BufferedHttpWritable(server.url, { highWaterMark: 4096 }), pattern(20_000));
    expect(error).toBeInstanceOf(HttpStatusError);
    expect(error).toMatchObject({
      code: 'ERR_BHW_HTTP_STATUS',
      statusCode: 500,
      body: 'disk full',
      bytesWritten: 20_000,
      bytesSent: 20_000,
      bytesAcknowledged: 0,
    });
    expect(error.message).toMatch(/500.*disk full/);
  });

  test('a large error body is capped', async () => {
    const server = await sink((request, response) => {
      void readBody(request).then(() => {
        response.writeHead(400);
        response.end('x'.repeat(100_000));
      });
    });
    const error = (await failedUpload(new BufferedHttpWritable(server.url), pattern(10))) as HttpStatusError;
    expect(error.statusCode).toBe(400);
    expect(error.body.length).toBe(BODY_SNIPPET_LIMIT);
    expect(error.message.length).toBeLessThan(1000);
  });

  test('an early 413 while the body is still going out is reported as 413, not EPIPE', async () => {
    const server = await sink((request, response) => {
      // Answer at once and hang up, as a proxy with a body limit does.
      response.writeHead(413, { connection: 'close', 'content-type': 'text/plain' });
      response.end('request entity too large', () => request.socket.destroy());
    });
    const upload = new BufferedHttpWritable(server.url, { highWaterMark: 64 * 1024 });
    const error = await failedUpload(upload, pattern(32 * 1024 * 1024));
    expect(error).toBeInstanceOf(HttpStatusError);
    expect(error).toMatchObject({ statusCode: 413, body: 'request entity too large', bytesAcknowledged: 0 });
    expect((error as HttpStatusError).bytesSent).toBeLessThan(32 * 1024 * 1024);
  });

  test('a refusal whose answer is cut by a reset is reported by its status, not as a network error', async () => {
    // The whole body is read first, so the response comes after the client handed over every byte
    // (not "early" by the client's count); then the connection is reset in the middle of the answer.
    const target = await sink();
    const server = await sink((request, response) => {
      void readBody(request).then(() => {
        response.writeHead(307, { location: `${target.url}/elsewhere`, 'content-length': '100' });
        response.write('moved', () => request.socket.resetAndDestroy());
      });
    });
    const error = await failedUpload(new BufferedHttpWritable(server.url), pattern(1000));
    expect(String(error)).toMatch(/^RedirectError: /);
    expect(error).toMatchObject({ code: 'ERR_BHW_REDIRECT', statusCode: 307, location: `${target.url}/elsewhere`, bytesAcknowledged: 0 });
    expect(target.requestCount).toBe(0);
  });

  test('an early 2xx before the body is complete is not an acknowledgement', async () => {
    const server = await sink((request, response) => {
      response.end('ok');
      request.resume();
    });
    const upload = new BufferedHttpWritable(server.url, { highWaterMark: 1024 });
    upload.write(pattern(4096)); // more than a buffer: the request is open and the body under way
    // The early answer fails the upload even while the producer is idle.
    const error = await new Promise<Error>((resolve) => upload.on('error', resolve));
    expect(error).toMatchObject({ code: 'ERR_BHW_EARLY_RESPONSE', statusCode: 200 });
  });
});

describe('a connection cut mid-body ends in a network error', () => {
  test('reset after some bytes: NetworkError with bytesSent and nothing acknowledged', async () => {
    const server = await sink((request) => {
      let seen = 0;
      request.on('data', (chunk: Buffer) => {
        seen += chunk.length;
        if (seen > 256 * 1024) request.socket.resetAndDestroy();
      });
    });
    const error = await failedUpload(new BufferedHttpWritable(server.url, { highWaterMark: 64 * 1024 }), pattern(8 * 1024 * 1024));
    expect(error).toBeInstanceOf(NetworkError);
    expect(error).toMatchObject({ code: 'ERR_BHW_NETWORK', bytesAcknowledged: 0 });
    expect((error as NetworkError).bytesSent).toBeGreaterThan(0);
    expect((error as NetworkError).causeCode).toMatch(/^E[A-Z]+/);
  });

  test('connection refused', async () => {
    const server = await sink();
    const url = server.url;
    await server.close();
    sinks.splice(0);
    const error = await failedUpload(new BufferedHttpWritable(url), pattern(10));
    expect(error).toMatchObject({ code: 'ERR_BHW_NETWORK', causeCode: 'ECONNREFUSED', bytesAcknowledged: 0 });
  });
});

describe('redirects are not followed with a streamed body', () => {
  test('307 fails with the status and the Location; the other server gets nothing', async () => {
    const target = await sink();
    const redirecting = await sink((request, response) => {
      request.resume();
      response.writeHead(307, { location: `${target.url}/elsewhere` });
      response.end();
    });
    const error = await failedUpload(new BufferedHttpWritable(redirecting.url), pattern(1000));
    expect(error).toBeInstanceOf(RedirectError);
    expect(error).toMatchObject({ code: 'ERR_BHW_REDIRECT', statusCode: 307, location: `${target.url}/elsewhere` });
    expect(error.message).toContain(`${target.url}/elsewhere`);
    expect(target.requestCount).toBe(0);
  });

  test('a user got instance that follows redirects is overridden', async () => {
    const { default: got } = await import('got');
    const target = await sink();
    const redirecting = await sink((request, response) => {
      request.resume();
      response.writeHead(308, { location: target.url });
      response.end();
    });
    const client = got.extend({ followRedirect: true, throwHttpErrors: true });
    const error = await failedUpload(new BufferedHttpWritable(redirecting.url, { got: client }), pattern(1000));
    expect(error).toMatchObject({ code: 'ERR_BHW_REDIRECT', statusCode: 308 });
    expect(target.requestCount).toBe(0);
  });
});

describe('the default answer handler records what it received', () => {
  test('sink sanity: one upload, one request', async () => {
    const server = await sink((request, response, s) => void recordAndAnswer(request, response, s, 201));
    const upload = new BufferedHttpWritable(server.url);
    await pipeline(readableOf([Buffer.from('abc')]), upload);
    expect(upload.response?.statusCode).toBe(201);
    expect(server.received).toHaveLength(1);
  });
});
