import { afterEach, describe, expect, test } from '@jest/globals';
import { runCli } from '../helpers/cli.js';
import { useCliFixture } from '../helpers/cli-fixture.js';
import { pattern } from '../helpers/data.js';
import { readBody, sha256, startSink, type Sink } from '../helpers/sink-server.js';

const data = pattern(100_000);
const fx = useCliFixture(data, { sink: false });

/** Answers the first `refusals` requests 503 with `Retry-After: 0` (retried at once), then stores as usual. */
async function overloaded(refusals: number): Promise<Sink> {
  let refused = 0;
  return startSink((request, response, sink) => {
    if (refused >= refusals) return 'default';
    refused++;
    void readBody(request).then(() => {
      response.writeHead(503, { 'retry-after': '0', 'content-type': 'text/plain' });
      response.end('busy');
    });
    return void sink;
  });
}

describe('retries are shown, and counted when the upload gives up', () => {
  let sink: Sink | undefined;
  const batch = ['--mode', 'batch', '--high-water-mark', '1MiB'];

  afterEach(async () => {
    await sink?.close();
    sink = undefined;
  });

  test('without a bar: one line per retry, as curl warns', async () => {
    sink = await overloaded(2);
    const result = await runCli([...batch, fx.file, sink.url]);

    expect(result.code).toBe(0);
    expect(result.stderr).toMatch(/^bhw: HTTP 503; retrying in 1 s, attempt 2\nbhw: HTTP 503; retrying in 1 s, attempt 3\nbhw: uploaded /);
    expect(sha256(sink.received.at(-1)!.body)).toBe(sha256(data));
  });

  test('on the progress bar', async () => {
    sink = await overloaded(1);
    const result = await runCli([...batch, '--retry', '3', '--progress', fx.file, sink.url]);

    expect(result.code).toBe(0);
    expect(result.stderr).toMatch(/ \| retrying in 1 s, attempt 2 of 4\n/);
  });

  test('the final error line and --json count the attempts', async () => {
    sink = await overloaded(Infinity);
    const result = await runCli([...batch, '--retry', '2', '--json', fx.file, sink.url]);

    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(
      /\nbhw: upload failed: Server answered 503 Service Unavailable for batch 0: busy \(gave up after 3 failed attempts over \d+ ms: retry\.limit is 2\) \(sent 100000 of 100000 bytes, 0 acknowledged\)\n$/,
    );
    expect(JSON.parse(result.stdout)).toMatchObject({ error: { code: 'ERR_BHW_HTTP_STATUS', statusCode: 503 }, exitCode: 1, attempts: 3 });
    expect(sink.requestCount).toBe(3);
  });
});
