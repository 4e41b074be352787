import { afterEach, beforeEach, describe, expect, test } from '@jest/globals';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { killRunningClis, runCli } from './helpers/cli.js';
import { pattern } from './helpers/data.js';
import { sha256, startSink, type Sink } from './helpers/sink-server.js';

describe('bhw uploads a file or stdin exactly (stream mode)', () => {
  let sink: Sink;
  let dir: string;
  const data = pattern(300_000);
  let file: string;

  beforeEach(async () => {
    sink = await startSink();
    dir = await mkdtemp(join(tmpdir(), 'bhw-cli-'));
    file = join(dir, 'data.bin');
    await writeFile(file, data);
  });
  afterEach(async () => {
    await killRunningClis();
    await sink.close();
    await rm(dir, { recursive: true, force: true });
  });

  test('a file: the server gets every byte, stdout is its answer, stderr the summary', async () => {
    const result = await runCli(['--high-water-mark', '64KiB', file, `${sink.url}/up`]);

    expect(result.code).toBe(0);
    expect(sink.received).toHaveLength(1);
    expect(sink.received[0]!.sha256).toBe(sha256(data));
    expect(sink.received[0]!.headers['transfer-encoding']).toBe('chunked');
    expect(result.stdout).toBe(JSON.stringify({ bytes: data.length, sha256: sha256(data) }));
    expect(result.stderr).toMatch(new RegExp(`^bhw: uploaded 300000 bytes .* sha256 ${sha256(data)}, status 200\\n$`));
  });

  test('stdin with -: the sha256 the CLI reports is the one the server computed', async () => {
    const result = await runCli(['-', sink.url], { input: data });

    expect(result.code).toBe(0);
    expect(sink.received[0]!.sha256).toBe(sha256(data));
    expect(result.stderr).toContain(`sha256 ${sink.received[0]!.sha256}`);
  });

  test('an empty stdin is an empty upload', async () => {
    const result = await runCli(['-', sink.url], { input: Buffer.alloc(0) });

    expect(result.code).toBe(0);
    expect(sink.received[0]!.body.length).toBe(0);
    expect(result.stderr).toContain(`sha256 ${sha256('')}`);
  });

  test('-H headers and -X method are sent', async () => {
    const result = await runCli(['-X', 'PUT', '-H', 'X-Trace: abc 123', '--header', 'Authorization: Bearer t0ken', '-H', 'X-Trace: def', file, sink.url]);

    expect(result.code).toBe(0);
    const { method, headers } = sink.received[0]!;
    expect(method).toBe('PUT');
    expect(headers['x-trace']).toBe('abc 123, def');
    expect(headers.authorization).toBe('Bearer t0ken');
  });

  test('--content-length sends the file size instead of chunked encoding', async () => {
    const result = await runCli(['--content-length', file, sink.url]);

    expect(result.code).toBe(0);
    expect(sink.received[0]!.headers['content-length']).toBe(String(data.length));
    expect(sink.received[0]!.headers['transfer-encoding']).toBeUndefined();
    expect(sink.received[0]!.sha256).toBe(sha256(data));
  });

  test('--json: stdout is one JSON object with the right figures', async () => {
    const result = await runCli(['--json', file, sink.url]);

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
    const result = await runCli(['--quiet', file, sink.url]);

    expect(result.code).toBe(0);
    expect(result.stderr).toBe('');
    expect(JSON.parse(result.stdout)).toEqual({ bytes: data.length, sha256: sha256(data) });
  });
});
