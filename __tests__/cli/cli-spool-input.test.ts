/**
 * `bhw --mode batch --spool DIR FILE URL`: the spool knows which file its
 * records come from and how far into it they reach. Running the same command
 * again sends the spool, then continues the file after the last byte the
 * spool took: every line is stored once. Another input is refused while the
 * spool holds records, naming the command that sends them (`--drain`).
 */
import { afterEach, beforeEach, describe, expect, test } from '@jest/globals';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { killRunningClis, runCli } from '../helpers/cli.js';
import { ndjsonLines, startBatchServer, type BatchServer } from '../helpers/batch-server.js';

let dir: string;
let server: BatchServer | undefined;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'bhw-cli-spool-input-'));
});
afterEach(async () => {
  await killRunningClis();
  await server?.close();
  server = undefined;
  await rm(dir, { recursive: true, force: true });
});

/** A port nothing listens on, to bring a server up on later. */
async function downPort(): Promise<number> {
  const down = await startBatchServer();
  const { port } = new URL(down.url);
  await down.close();
  return Number(port);
}

async function ndjsonFile(name: string, lines: number, seed: number): Promise<{ path: string; bytes: Buffer }> {
  const bytes = Buffer.from(ndjsonLines(lines, seed).join(''));
  const path = join(dir, name);
  await writeFile(path, bytes);
  return { path, bytes };
}

describe('bhw --spool with a file', () => {
  test('the server down with part of the file in the spool: the same command again sends the spool, then the rest of the file, each line once', async () => {
    const { path, bytes } = await ndjsonFile('events.ndjson', 3000, 5);
    const port = await downPort();
    const spool = join(dir, 'spool');
    // A spool smaller than the file: the run fails with only a part of it taken.
    const args = [
      '--mode',
      'batch',
      '--retry',
      '0',
      '--high-water-mark',
      '4KiB',
      '--spool-max-bytes',
      '64KiB',
      '--spool',
      spool,
      path,
      `http://127.0.0.1:${port}/logs`,
    ];

    const failed = await runCli(args);
    expect(failed.code).toBe(1);
    const kept = /the spool \S+ keeps (\d+) bytes; run the same command again to send them/.exec(failed.stderr);
    expect(Number(kept?.[1])).toBeGreaterThan(0);
    expect(Number(kept?.[1])).toBeLessThan(bytes.length);

    server = await startBatchServer(undefined, { port });
    const resent = await runCli(['--json', ...args]);
    expect(resent.code).toBe(0);
    const summary = JSON.parse(resent.stdout) as { bytes: number; bytesFromSpool: number };
    expect(summary.bytesFromSpool).toBe(Number(kept![1]));
    // This run read the file from where the spool's records end.
    expect(summary.bytes).toBeLessThan(bytes.length);
    expect(resent.stderr).toContain(`bhw: the spool ${spool} took the first ${bytes.length - summary.bytes} bytes of ${path}: going on from there`);
    expect(server.mismatches).toBe(0);
    expect(server.duplicates).toBe(0);
    expect(server.assembled().equals(bytes)).toBe(true);
  });

  test('another input while the spool holds records: refused (exit 2) naming the drain command, which sends the spool alone', async () => {
    const first = await ndjsonFile('first.ndjson', 200, 6);
    const second = await ndjsonFile('second.ndjson', 200, 7);
    const port = await downPort();
    const spool = join(dir, 'spool');
    const url = `http://127.0.0.1:${port}/logs`;
    const options = ['--mode', 'batch', '--retry', '0', '--spool', spool];
    expect((await runCli([...options, first.path, url])).code).toBe(1);

    server = await startBatchServer(undefined, { port });
    const refused = await runCli([...options, second.path, url]);
    expect(refused.code).toBe(2);
    const drain = `bhw --drain --mode batch --retry 0 --spool ${spool} ${url}`;
    expect(refused.stderr).toBe(
      `bhw: the spool ${spool} holds ${first.bytes.length} bytes of records from another file, not from ${second.path}; send them first with: ${drain}\n`,
    );
    // stdin is another input too.
    const piped = await runCli([...options, '-', url], { input: second.bytes });
    expect(piped.code).toBe(2);
    expect(piped.stderr).toContain('not from stdin; send them first with');
    expect(server.attempts).toHaveLength(0);

    const drained = await runCli(drain.split(' ').slice(1));
    expect(drained.code).toBe(0);
    expect(server.assembled().equals(first.bytes)).toBe(true);

    const next = await runCli([...options, second.path, url]);
    expect(next.code).toBe(0);
    expect(server.assembled().equals(Buffer.concat([first.bytes, second.bytes]))).toBe(true);
    expect(server.duplicates).toBe(0);
  });

  test('--drain needs --spool and takes the URL alone', async () => {
    const noSpool = await runCli(['--mode', 'batch', '--drain', 'http://127.0.0.1:1/']);
    expect(noSpool.code).toBe(2);
    expect(noSpool.stderr).toBe('bhw: --drain needs --spool DIR: it sends what that spool holds\n');
    const withFile = await runCli(['--mode', 'batch', '--spool', join(dir, 's'), '--drain', 'file.ndjson', 'http://127.0.0.1:1/']);
    expect(withFile.code).toBe(2);
    expect(withFile.stderr).toBe('bhw: expected <url> alone with --drain, received 2 argument(s); see bhw --help\n');
  });
});
