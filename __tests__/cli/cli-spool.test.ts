/**
 * `bhw --mode batch --spool DIR - URL`: records read from stdin are kept on
 * disk until the server acknowledged them, and running the same command again
 * (after a failure, or after the process was killed) sends what was left
 * first. The server deduplicates by Idempotency-Key, so "exactly once" is
 * checked on what it stored.
 */
import { afterEach, beforeEach, describe, expect, test } from '@jest/globals';
import { chown, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import type { CliIo } from '../../cli/io.js';
import { main } from '../../cli/main.js';
import { killRunningClis, runCli, spawnCli } from '../helpers/cli.js';
import { ndjsonLines, startBatchServer, type BatchServer } from '../helpers/batch-server.js';

let dir: string;
let server: BatchServer | undefined;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'bhw-cli-spool-'));
});
afterEach(async () => {
  await killRunningClis();
  await server?.close();
  server = undefined;
  await rm(dir, { recursive: true, force: true });
});

/** Each stored line once, none altered: the server's reassembly is the input. */
function expectExactlyOnce(batches: BatchServer, input: Buffer): void {
  expect(batches.mismatches).toBe(0);
  expect(batches.assembled().equals(input)).toBe(true);
}

describe('bhw --spool', () => {
  test('a server that is down: exit 1, the records stay; the same command with the server up delivers them once', async () => {
    // One read of stdin and one append: every record is in the spool before the first request fails.
    const input = Buffer.from(ndjsonLines(150, 12).join(''));
    const down = await startBatchServer();
    const { port } = new URL(down.url);
    await down.close();
    const spool = join(dir, 'spool');
    const args = ['--mode', 'batch', '--retry', '0', '--spool', spool, '-', `http://127.0.0.1:${port}/logs`];

    const failed = await runCli(args, { input });
    expect(failed.code).toBe(1);
    const [reason, kept, rest] = failed.stderr.split('\n');
    expect(reason).toMatch(/^bhw: upload failed: Connection failed \(ECONNREFUSED\)/);
    expect(kept).toBe(`bhw: the spool ${spool} keeps ${input.length} bytes; run the same command again to send them`);
    expect(rest).toBe('');

    server = await startBatchServer(undefined, { port: Number(port) });
    const resent = await runCli(['--json', ...args], { input: Buffer.alloc(0) });
    expect(resent.code).toBe(0);
    expect(JSON.parse(resent.stdout)).toMatchObject({ bytes: 0, bytesFromSpool: input.length, statusCode: 200, mode: 'batch' });
    expectExactlyOnce(server, input);
    expect(server.duplicates).toBe(0);

    // Nothing is left: a third run sends nothing.
    const again = await runCli(args, { input: Buffer.alloc(0) });
    expect(again.code).toBe(0);
    expect(again.stderr).toMatch(/^bhw: uploaded 0 bytes .*, status none, 0 bytes from the spool\n$/);
  });

  test('SIGKILL while every batch is in flight unanswered: the re-run resends them with the same keys, stored once', async () => {
    const input = Buffer.from(ndjsonLines(400, 7).join(''));
    server = await startBatchServer();
    // Batches are stored as they arrive; their 2xx answers wait.
    server.paused = true;
    const spool = join(dir, 'spool');
    const args = ['--mode', 'batch', '--concurrency', '32', '--high-water-mark', '4KiB', '--spool', spool, '-', `${server.url}/logs`];
    const cli = spawnCli(args, { input });
    // Every record reached the server, so every record was in the spool (batches are read back from it).
    const target = server;
    await target.waitFor(() => target.assembled().equals(input));
    const batchCount = server.stored.size;
    cli.child.kill('SIGKILL');
    const killed = await cli.exited;
    expect(killed.signal).toBe('SIGKILL');
    server.resume();

    const resent = await runCli(['--json', ...args], { input: Buffer.alloc(0) });
    expect(resent.code).toBe(0);
    expect(JSON.parse(resent.stdout)).toMatchObject({ bytes: 0, bytesFromSpool: input.length });
    expectExactlyOnce(server, input);
    expect(server.duplicates).toBe(batchCount);
    // A resent batch carries the sequence and offset it was first sent with.
    for (const attempt of server.attempts) {
      const stored = server.stored.get(attempt.key)!;
      expect([attempt.sequence, attempt.offset]).toEqual([stored.sequence, stored.offset]);
    }
  });

  test('a batch the server refuses for what it is: the failure line says where it was set aside', async () => {
    server = await startBatchServer(() => ({ kind: 'status', status: 413, body: 'too large' }));
    const spool = join(dir, 'spool');
    const result = await runCli(['--mode', 'batch', '--spool', spool, '-', server.url], { input: Buffer.from('{"a":1}\n') });

    expect(result.code).toBe(1);
    const lines = result.stderr.split('\n');
    expect(lines[0]).toMatch(/^bhw: upload failed: Server answered 413 Payload Too Large for batch 0: too large/);
    expect(lines[1]).toBe(`bhw: the spool ${spool} holds nothing more to send`);
    expect(lines[2]).toMatch(new RegExp(`^bhw: the batch the server refused was set aside in ${spool}/rejected/\\S+\\.bin$`));
  });

  test('in-process: interrupted, the records stay and the line says so; the re-run sends them', async () => {
    server = await startBatchServer();
    server.paused = true;
    const spool = join(dir, 'spool');
    const input = Buffer.from(ndjsonLines(20, 3).join(''));
    const args = ['--mode', 'batch', '--spool', spool, '-', server.url];
    const first = io(Readable.from([input]));
    const exited = main(args, first.io);
    const target = server;
    await target.waitFor(() => target.stored.size === 1);
    process.emit('SIGINT', 'SIGINT');
    expect(await exited).toBe(130);
    expect(first.stderr()).toMatch(
      new RegExp(
        `^bhw: interrupted \\(sent \\d+ bytes, 0 acknowledged\\)\\nbhw: the spool ${spool} keeps ${input.length} bytes; run the same command again to send them\\n$`,
      ),
    );

    server.resume();
    const second = io(Readable.from([]));
    expect(await main(args, second.io)).toBe(0);
    expect(second.stderr()).toMatch(new RegExp(`, status 200, ${input.length} bytes from the spool\\n$`));
    expectExactlyOnce(server, input);
  });

  // chown needs root; CI runs as root, as this machine does.
  const asRoot = process.getuid?.() === 0 ? test : test.skip;
  asRoot('a spool directory owned by another user: refused, exit 1, naming it; taken with --spool-allow-unsafe-directory', async () => {
    server = await startBatchServer();
    const spool = join(dir, 'foreign');
    await mkdir(spool, { mode: 0o700 });
    await chown(spool, 65534, 65534);
    const input = Buffer.from(ndjsonLines(20, 12).join(''));
    const args = ['--mode', 'batch', '--spool', spool, '-', `${server.url}/logs`];

    const refused = await runCli(args, { input });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(`Refusing spool path ${spool} (owner uid 65534, mode 0700)`);
    expect(server.attempts).toHaveLength(0);

    const taken = await runCli(['--spool-allow-unsafe-directory', ...args], { input });
    expect(taken.code).toBe(0);
    expectExactlyOnce(server, input);
  });
});

/** In-memory streams for `main()`, with no proxy variables. */
function io(stdin: Readable): { io: CliIo; stderr(): string } {
  let stderr = '';
  const err = new PassThrough();
  err.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return { io: { stdin, stdout: new PassThrough().resume(), stderr: err, env: {} }, stderr: () => stderr };
}
