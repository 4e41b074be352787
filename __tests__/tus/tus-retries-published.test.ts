import diagnosticsChannel from 'node:diagnostics_channel';
import { once } from 'node:events';
import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pipeline } from 'node:stream/promises';
import { afterEach, beforeEach, expect, test } from '@jest/globals';
import { BufferedHttpWritable, DiagnosticsChannels, type RequestRetriedMessage } from '../../lib/index.js';
import { runCli } from '../helpers/cli.js';
import { useCliFixture } from '../helpers/cli-fixture.js';
import { chunksOf, pattern, readableOf } from '../helpers/data.js';
import { sha256 } from '../helpers/sink-server.js';
import { startTusServer, type TusTestServer } from '../helpers/tus-server.js';

const data = pattern(200_000, 7);
const fx = useCliFixture(data, { sink: false });

let tus: TusTestServer;
let front: Server;
let frontUrl: string;
/** Requests of `refused` the front still answers 503 (Retry-After: 0) instead of passing them on. */
let refusals = 0;
let refused = 'PATCH';

beforeEach(async () => {
  tus = await startTusServer();
  const origin = new URL(tus.url);
  // In front of the tus server: refuses the next `refusals` requests of one method, passes everything else on.
  front = createServer((request, response) => {
    if (request.method === refused && refusals > 0) {
      refusals--;
      request.resume();
      request.once('end', () => response.writeHead(503, { 'retry-after': '0' }).end('busy'));
      return;
    }
    const upstream = httpRequest(
      { host: origin.hostname, port: origin.port, method: request.method, path: request.url, headers: request.headers },
      (answer) => {
        response.writeHead(answer.statusCode!, answer.headers);
        answer.pipe(response);
      },
    );
    request.pipe(upstream);
  });
  front.listen(0, '127.0.0.1');
  await once(front, 'listening');
  frontUrl = `http://127.0.0.1:${(front.address() as AddressInfo).port}${origin.pathname}`;
});

afterEach(async () => {
  front.closeAllConnections();
  front.close();
  await tus.close();
});

test('a tus PATCH that is retried is published on the request:retried channel', async () => {
  refusals = 1;
  refused = 'PATCH';
  const messages: RequestRetriedMessage[] = [];
  const listener = (message: unknown): void => void messages.push(message as RequestRetriedMessage);
  diagnosticsChannel.subscribe(DiagnosticsChannels.requestRetried, listener);
  try {
    const writable = new BufferedHttpWritable(frontUrl, { mode: 'tus', highWaterMark: 64 * 1024 });
    await pipeline(readableOf(chunksOf(data, [10_000])), writable);
    expect(messages).toEqual([expect.objectContaining({ upload: writable, mode: 'tus', request: 'PATCH', attempt: 1, reason: '503', statusCode: 503 })]);
    expect((await tus.stored(writable.uploadUrl!)).sha256).toBe(sha256(data));
  } finally {
    diagnosticsChannel.unsubscribe(DiagnosticsChannels.requestRetried, listener);
  }
});

test('bhw shows a tus retry as it shows a batch retry', async () => {
  // The creation request: a small file goes with it (creation-with-upload) or in one PATCH after it.
  refusals = 2;
  refused = 'POST';
  const result = await runCli(['--mode', 'tus', fx.file, frontUrl]);
  expect(result.code).toBe(0);
  expect(result.stderr).toMatch(/^bhw: HTTP 503; retrying in 1 s, attempt 2\nbhw: HTTP 503; retrying in 1 s, attempt 3\nbhw: uploaded /);
});
