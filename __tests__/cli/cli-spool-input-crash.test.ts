/**
 * `bhw --mode batch --spool DIR FILE URL` killed with SIGKILL, then the same
 * command again: every line of the file is stored exactly once after the
 * server drops repeated Idempotency-Keys. A batch in flight at the kill may
 * arrive twice under its one key (with the same bytes), never under two keys.
 */
import { afterEach, beforeEach, describe, expect, test } from '@jest/globals';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { killRunningClis, runCli, spawnCli } from '../helpers/cli.js';
import { ndjsonLines, startBatchServer, type BatchServer } from '../helpers/batch-server.js';

let dir: string;
let server: BatchServer | undefined;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'bhw-cli-spool-crash-'));
});
afterEach(async () => {
  await killRunningClis();
  await server?.close();
  server = undefined;
  await rm(dir, { recursive: true, force: true });
});

describe('bhw --spool FILE killed with SIGKILL', () => {
  test('killed twice (answers held, then answers flowing), the same command again: every line stored once', async () => {
    const input = Buffer.from(ndjsonLines(6000, 17).join(''));
    const path = join(dir, 'events.ndjson');
    await writeFile(path, input);
    server = await startBatchServer();
    const target = server;
    const spool = join(dir, 'spool');
    const args = [
      '--mode',
      'batch',
      '--concurrency',
      '4',
      '--high-water-mark',
      '4KiB',
      '--spool-max-bytes',
      '64KiB',
      '--spool',
      spool,
      path,
      `${server.url}/logs`,
    ];

    // 1: the server stores batches but holds its answers: four are in flight at the kill.
    server.paused = true;
    const held = spawnCli(args);
    await target.waitFor(() => target.stored.size >= 4);
    held.child.kill('SIGKILL');
    expect((await held.exited).signal).toBe('SIGKILL');
    server.resume();

    // 2: answers flow; killed some way into the file.
    const flowing = spawnCli(args);
    const before = server.stored.size;
    await target.waitFor(() => target.stored.size >= before + 20);
    flowing.child.kill('SIGKILL');
    expect((await flowing.exited).signal).toBe('SIGKILL');

    // 3: the same command runs to the end.
    const last = await runCli(args);
    expect(last.code).toBe(0);

    // Every line once, in order, none altered; a repeated key carried the same bytes.
    expect(server.mismatches).toBe(0);
    const lines = server.assembled().toString().split('\n');
    expect(lines.length).toBe(6001);
    expect(server.assembled().equals(input)).toBe(true);
    // Only batches in flight at a kill arrive again.
    expect(server.duplicates).toBeGreaterThan(0);
  });
});
