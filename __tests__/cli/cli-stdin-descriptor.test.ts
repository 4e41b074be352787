/**
 * `bhw - url` reads descriptor 0 straight into the pool's buffers
 * (`uploadFile`) when stdin is a pipe or a file the shell redirected; the
 * socket Node gives a child goes through the pipeline instead
 * (cli/upload.ts, directSource). Each case checks the server's sha256.
 */
import { describe, expect, test } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import type { CliIo } from '../../cli/io.js';
import { main } from '../../cli/main.js';
import { startReceiveServer } from '../../cli/receive-server.js';
import { Sha256Transform } from '../../cli/sha256-transform.js';
import { CLI_PATH, runCli, spawnCli } from '../helpers/cli.js';
import { useCliFixture } from '../helpers/cli-fixture.js';
import { pattern } from '../helpers/data.js';
import { sha256 } from '../helpers/sink-server.js';

// Not a multiple of the buffer size: the last read is short.
const data = pattern(1_000_003);
const fx = useCliFixture(data);

/** Runs `bhw` with `fd` as its stdin; the parent's copy is closed once the child has its own. */
async function runWithStdin(args: string[], fd: number): Promise<Awaited<ReturnType<typeof runCli>>> {
  const cli = spawnCli(args, { stdinFd: fd });
  closeSync(fd);
  return cli.exited;
}

describe('bhw - url: stdin read into the pool', () => {
  test('a pipe from the shell (cat file | bhw - url): exact, and the summary has the server sha256', async () => {
    // An anonymous pipe, as a shell makes it (Node's own stdio "pipes" are sockets).
    const cli = spawnCli(['-c', 'cat -- "$0" | "$1" "$2" --sha256 --high-water-mark 64KiB - "$3"', fx.file, process.execPath, CLI_PATH, fx.sink.url], {
      executable: '/bin/sh',
    });
    const result = await cli.exited;

    expect(result.code).toBe(0);
    expect(fx.sink.received[0]!.sha256).toBe(sha256(data));
    expect(fx.sink.received[0]!.headers['transfer-encoding']).toBe('chunked');
    expect(result.stderr).toMatch(new RegExp(`^bhw: uploaded ${data.length} bytes .* sha256 ${sha256(data)}, status 200\\n$`));
  });

  test('a named FIFO, written while bhw reads: exact', async () => {
    const fifo = join(fx.dir, 'fifo');
    execFileSync('mkfifo', [fifo]);
    // Opening either end of a FIFO waits for the other: open both at once.
    const [reader, writer] = await Promise.all([open(fifo, 'r'), open(fifo, 'w')]);
    const cli = spawnCli(['--sha256', '--high-water-mark', '64KiB', '-', fx.sink.url], { stdinFd: reader.fd });
    await reader.close();
    await writer.writeFile(data);
    await writer.close();
    const result = await cli.exited;

    expect(result.code).toBe(0);
    expect(fx.sink.received[0]!.sha256).toBe(sha256(data));
    expect(result.stderr).toContain(`sha256 ${sha256(data)}`);
  });

  test('a file redirected to stdin (< file): exact, sent chunked as stdin is', async () => {
    const result = await runWithStdin(['--sha256', '--high-water-mark', '64KiB', '-', fx.sink.url], openSync(fx.file, 'r'));

    expect(result.code).toBe(0);
    expect(fx.sink.received[0]!.sha256).toBe(sha256(data));
    expect(fx.sink.received[0]!.headers['transfer-encoding']).toBe('chunked');
    expect(result.stderr).toMatch(new RegExp(`^bhw: uploaded ${data.length} bytes .* sha256 ${sha256(data)}, status 200\\n$`));
  });

  test('a file redirected to stdin, tus mode: the stored upload is exact', async () => {
    const server = await startReceiveServer({ port: 0, dir: join(fx.dir, 'store'), log: () => {} });
    try {
      const result = await runWithStdin(
        ['--sha256', '--json', '--mode', 'tus', '--high-water-mark', '64KiB', '-', `${server.url}/tus`],
        openSync(fx.file, 'r'),
      );

      expect(result.code).toBe(0);
      const summary = JSON.parse(result.stdout) as { bytes: number; sha256: string; body: string };
      expect(summary).toMatchObject({ bytes: data.length, sha256: sha256(data), mode: 'tus' });
      expect(JSON.parse(summary.body)).toMatchObject({ bytes: data.length, sha256: sha256(data) });
    } finally {
      await server.close();
    }
  });

  test('an empty file redirected to stdin is an empty upload', async () => {
    const empty = join(fx.dir, 'empty.bin');
    closeSync(openSync(empty, 'w'));
    const result = await runWithStdin(['--sha256', '-', fx.sink.url], openSync(empty, 'r'));

    expect(result.code).toBe(0);
    expect(fx.sink.received[0]!.body.length).toBe(0);
    expect(result.stderr).toContain(`sha256 ${sha256('')}`);
  });
});

describe('--no-sha256', () => {
  test('a file: exact at the server, no digest in the summary line or the JSON', async () => {
    const line = await runCli(['--no-sha256', fx.file, fx.sink.url]);
    const json = await runCli(['--no-sha256', '--json', fx.file, fx.sink.url]);

    expect(line.code).toBe(0);
    expect(line.stderr).toMatch(new RegExp(`^bhw: uploaded ${data.length} bytes \\([\\d.]+ KiB\\) in [\\d.]+ s, [\\d.]+ MB/s, status 200\\n$`));
    expect(json.code).toBe(0);
    const summary = JSON.parse(json.stdout) as Record<string, unknown>;
    expect(summary).not.toHaveProperty('sha256');
    expect(summary).toMatchObject({ bytes: data.length, statusCode: 200, mode: 'stream' });
    for (const received of fx.sink.received) expect(received.sha256).toBe(sha256(data));
  });

  test('stdin through the pipeline (batch): counted, not hashed', async () => {
    const result = await runCli(['--no-sha256', '--mode', 'batch', '-', fx.sink.url], { input: Buffer.from('a\nb\n') });

    expect(result.code).toBe(0);
    expect(result.stderr).toMatch(/^bhw: uploaded 4 bytes .* status 200\n$/);
    expect(result.stderr).not.toContain('sha256');
  });
});

describe('--content-length through uploadFile', () => {
  test('a file: Content-Length is its size, the body exact', async () => {
    const result = await runCli(['--content-length', '--high-water-mark', '64KiB', fx.file, fx.sink.url]);

    expect(result.code).toBe(0);
    expect(fx.sink.received[0]!.headers['content-length']).toBe(String(data.length));
    expect(fx.sink.received[0]!.headers['transfer-encoding']).toBeUndefined();
    expect(fx.sink.received[0]!.sha256).toBe(sha256(data));
  });
});

describe('in-process: which stdin goes through uploadFile', () => {
  /** In-memory stdout and stderr; `stdinFd` as given. */
  function io(stdin: Readable, stdinFd: number): { io: CliIo; stderr(): string } {
    let stderr = '';
    const err = new PassThrough();
    err.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    return { io: { stdin, stdinFd, stdout: new PassThrough().resume(), stderr: err, env: {} }, stderr: () => stderr };
  }

  test('a descriptor of a regular file is read directly (the stream beside it is not touched)', async () => {
    const fd = openSync(fx.file, 'r');
    try {
      const out = io(Readable.from([Buffer.from('not this')]), fd);
      expect(await main(['--sha256', '--high-water-mark', '64KiB', '-', fx.sink.url], out.io)).toBe(0);
      expect(fx.sink.received[0]!.sha256).toBe(sha256(data));
      expect(out.stderr()).toContain(`sha256 ${sha256(data)}`);
    } finally {
      closeSync(fd);
    }
  });

  test('a named FIFO is read from its descriptor too (uploadFile waits for its writer)', async () => {
    const fifo = join(fx.dir, 'fifo');
    execFileSync('mkfifo', [fifo]);
    const [reader, writer] = await Promise.all([open(fifo, 'r'), open(fifo, 'w')]);
    try {
      const out = io(Readable.from([Buffer.from('not this')]), reader.fd);
      const uploaded = main(['-', fx.sink.url], out.io);
      await writer.writeFile(data);
      await writer.close();
      expect(await uploaded).toBe(0);
      expect(fx.sink.received[0]!.sha256).toBe(sha256(data));
    } finally {
      await reader.close();
    }
  });

  test('Sha256Transform without hashing has no digest to give', () => {
    expect(() => new Sha256Transform({ hash: false }).digest()).toThrow(/hash: false/);
  });
});
