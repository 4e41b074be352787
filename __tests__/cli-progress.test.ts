import { afterEach, beforeEach, describe, expect, test } from '@jest/globals';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { killRunningClis, runCli } from './helpers/cli.js';
import { pattern } from './helpers/data.js';
import { startSink, type Sink } from './helpers/sink-server.js';

describe('the progress bar', () => {
  let sink: Sink;
  let dir: string;
  let file: string;
  const data = pattern(200_000);

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

  test('--progress shows it on a piped stderr: bar, percentage, sent and acknowledged bytes, rate, ETA', async () => {
    const result = await runCli(['--progress', '--high-water-mark', '64KiB', file, sink.url]);

    expect(result.code).toBe(0);
    const lines = result.stderr.split('\n');
    expect(lines[0]).toMatch(/^\[-+\] 0% \| 0 B sent, 0 B acknowledged of 195\.3 KiB \| [\d.]+ MB\/s \| ETA /);
    expect(result.stderr).toMatch(/\[=+\] 100% \| 195\.3 KiB sent, 195\.3 KiB acknowledged of 195\.3 KiB/);
    expect(lines.at(-2)).toMatch(/^bhw: uploaded 200000 bytes/);
  });

  test('--progress with stdin: no bar or ETA, the size being unknown', async () => {
    const result = await runCli(['--progress', '-', sink.url], { input: data });

    expect(result.code).toBe(0);
    expect(result.stderr).toMatch(/^0 B sent, 0 B acknowledged \| [\d.]+ MB\/s \| \d+s\n/);
    expect(result.stderr).toMatch(/\n195\.3 KiB sent, 195\.3 KiB acknowledged \| /);
    expect(result.stderr).not.toMatch(/%|ETA/);
  });

  test('not shown when stderr is piped and --progress is not given', async () => {
    const result = await runCli([file, sink.url]);

    expect(result.code).toBe(0);
    expect(result.stderr).toMatch(/^bhw: uploaded 200000 bytes [^\n]*\n$/);
  });

  test('--quiet wins over --progress', async () => {
    const result = await runCli(['--quiet', '--progress', file, sink.url]);

    expect(result.code).toBe(0);
    expect(result.stderr).toBe('');
  });
});
