import { describe, expect, test } from '@jest/globals';
import { runCli } from '../helpers/cli.js';
import { useCliFixture } from '../helpers/cli-fixture.js';
import { pattern } from '../helpers/data.js';

describe('the progress bar', () => {
  const data = pattern(200_000);
  const fx = useCliFixture(data);

  test('--progress shows it on a piped stderr: bar, percentage, sent and acknowledged bytes, rate, ETA', async () => {
    const result = await runCli(['--progress', '--high-water-mark', '64KiB', fx.file, fx.sink.url]);

    expect(result.code).toBe(0);
    const lines = result.stderr.split('\n');
    expect(lines[0]).toMatch(/^\[-+\] 0% \| 0 B sent, 0 B acknowledged of 195\.3 KiB \| [\d.]+ MB\/s \| ETA /);
    expect(result.stderr).toMatch(/\[=+\] 100% \| 195\.3 KiB sent, 195\.3 KiB acknowledged of 195\.3 KiB/);
    expect(lines.at(-2)).toMatch(/^bhw: uploaded 200000 bytes/);
  });

  test('--progress with stdin: no bar or ETA, the size being unknown', async () => {
    const result = await runCli(['--progress', '-', fx.sink.url], { input: data });

    expect(result.code).toBe(0);
    expect(result.stderr).toMatch(/^0 B sent, 0 B acknowledged \| [\d.]+ MB\/s \| \d+s\n/);
    expect(result.stderr).toMatch(/\n195\.3 KiB sent, 195\.3 KiB acknowledged \| /);
    expect(result.stderr).not.toMatch(/%|ETA/);
  });

  test('not shown when stderr is piped and --progress is not given', async () => {
    const result = await runCli([fx.file, fx.sink.url]);

    expect(result.code).toBe(0);
    expect(result.stderr).toMatch(/^bhw: uploaded 200000 bytes [^\n]*\n$/);
  });

  test('--quiet wins over --progress', async () => {
    const result = await runCli(['--quiet', '--progress', fx.file, fx.sink.url]);

    expect(result.code).toBe(0);
    expect(result.stderr).toBe('');
  });
});
