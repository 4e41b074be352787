import { describe, expect, test } from '@jest/globals';
import { runCli } from '../helpers/cli.js';
import { useCliFixture } from '../helpers/cli-fixture.js';
import { pattern } from '../helpers/data.js';
import { sha256 } from '../helpers/sink-server.js';

describe('bhw uploads a file or stdin exactly (stream mode)', () => {
  const data = pattern(300_000);
  const fx = useCliFixture(data);

  test('a file: the server gets every byte, stdout is its answer, stderr the summary', async () => {
    const result = await runCli(['--sha256', '--high-water-mark', '64KiB', fx.file, `${fx.sink.url}/up`]);

    expect(result.code).toBe(0);
    expect(fx.sink.received).toHaveLength(1);
    expect(fx.sink.received[0]!.sha256).toBe(sha256(data));
    expect(fx.sink.received[0]!.headers['transfer-encoding']).toBe('chunked');
    expect(result.stdout).toBe(JSON.stringify({ bytes: data.length, sha256: sha256(data) }));
    expect(result.stderr).toMatch(new RegExp(`^bhw: uploaded 300000 bytes .* sha256 ${sha256(data)}, status 200\\n$`));
  });

  test('stdin with -: the sha256 the CLI reports is the one the server computed', async () => {
    const result = await runCli(['--sha256', '-', fx.sink.url], { input: data });

    expect(result.code).toBe(0);
    expect(fx.sink.received[0]!.sha256).toBe(sha256(data));
    expect(result.stderr).toContain(`sha256 ${fx.sink.received[0]!.sha256}`);
  });

  test('an empty stdin is an empty upload', async () => {
    const result = await runCli(['--sha256', '-', fx.sink.url], { input: Buffer.alloc(0) });

    expect(result.code).toBe(0);
    expect(fx.sink.received[0]!.body.length).toBe(0);
    expect(result.stderr).toContain(`sha256 ${sha256('')}`);
  });

  test('-H headers and -X method are sent', async () => {
    const result = await runCli(['-X', 'PUT', '-H', 'X-Trace: abc 123', '--header', 'Authorization: Bearer t0ken', '-H', 'X-Trace: def', fx.file, fx.sink.url]);

    expect(result.code).toBe(0);
    const { method, headers } = fx.sink.received[0]!;
    expect(method).toBe('PUT');
    expect(headers['x-trace']).toBe('abc 123, def');
    expect(headers.authorization).toBe('Bearer t0ken');
  });

  test('--content-length sends the file size instead of chunked encoding', async () => {
    const result = await runCli(['--content-length', fx.file, fx.sink.url]);

    expect(result.code).toBe(0);
    expect(fx.sink.received[0]!.headers['content-length']).toBe(String(data.length));
    expect(fx.sink.received[0]!.headers['transfer-encoding']).toBeUndefined();
    expect(fx.sink.received[0]!.sha256).toBe(sha256(data));
  });

  test('--json: stdout is one JSON object with the right figures', async () => {
    const result = await runCli(['--sha256', '--json', fx.file, fx.sink.url]);

    expect(result.code).toBe(0);
    const summary = JSON.parse(result.stdout) as Record<string, unknown>;
    expect(summary).toEqual({
      bytes: data.length,
      sha256: sha256(data),
      statusCode: 200,
      seconds: expect.any(Number),
      mode: 'stream',
      body: JSON.stringify({ bytes: data.length, sha256: sha256(data) }),
    });
    expect(summary.seconds).toBeGreaterThanOrEqual(0);
  });

  test('--quiet: the body on stdout, nothing on stderr', async () => {
    const result = await runCli(['--quiet', fx.file, fx.sink.url]);

    expect(result.code).toBe(0);
    expect(result.stderr).toBe('');
    expect(JSON.parse(result.stdout)).toEqual({ bytes: data.length, sha256: sha256(data) });
  });
});
