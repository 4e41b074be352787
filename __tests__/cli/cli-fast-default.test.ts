/**
 * bhw's default is as lean as curl's: no digest unless `--sha256` asks for
 * one (then on a worker thread where there is a second CPU), and each run
 * loads only the modules it uses. What was loaded is recorded by a module
 * hook registered in the real `bhw` process.
 */
import { describe, expect, test } from '@jest/globals';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { createHash } from 'node:crypto';
import { createHasher } from '../../cli/hasher.js';
import { runCli } from '../helpers/cli.js';
import { useCliFixture } from '../helpers/cli-fixture.js';
import { pattern } from '../helpers/data.js';
import { sha256 } from '../helpers/sink-server.js';

const data = pattern(300_000, 7);
const fx = useCliFixture(data);

/** Runs bhw with a hook that writes every module URL it loads to a file; resolves with the result and those URLs. */
async function runRecordingLoads(args: string[]): Promise<{ code: number | null; stderr: string; loaded: string[] }> {
  const log = join(fx.dir, 'loaded.txt');
  const hooks = join(fx.dir, 'hooks.mjs');
  const register = join(fx.dir, 'register.mjs');
  await writeFile(log, '');
  await writeFile(
    hooks,
    `import { appendFileSync } from 'node:fs';\nexport async function load(url, context, next) {\n  appendFileSync(${JSON.stringify(log)}, url + '\\n');\n  return next(url, context);\n}\n`,
  );
  await writeFile(register, `import { register } from 'node:module';\nregister(${JSON.stringify(pathToFileURL(hooks).href)});\n`);
  const result = await runCli(args, { env: { NODE_OPTIONS: `--import=${pathToFileURL(register).href}` } });
  return { code: result.code, stderr: result.stderr, loaded: (await readFile(log, 'utf8')).split('\n').filter(Boolean) };
}

describe('the default upload hashes nothing', () => {
  test('no digest in the summary line or the JSON; the server still gets every byte', async () => {
    const line = await runCli([fx.file, fx.sink.url]);
    const json = await runCli(['--json', '-', fx.sink.url], { input: data });

    expect(line.code).toBe(0);
    expect(line.stderr).toMatch(new RegExp(`^bhw: uploaded ${data.length} bytes \\([\\d.]+ KiB\\) in [\\d.]+ s, [\\d.]+ MB/s, status 200\\n$`));
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).not.toHaveProperty('sha256');
    for (const received of fx.sink.received) expect(received.sha256).toBe(sha256(data));
  });

  test('--sha256 adds it, and --no-sha256 (the default now) is still accepted', async () => {
    const hashed = await runCli(['--sha256', fx.file, fx.sink.url]);
    const old = await runCli(['--no-sha256', fx.file, fx.sink.url]);

    expect(hashed.code).toBe(0);
    expect(hashed.stderr).toContain(`sha256 ${sha256(data)}`);
    expect(old.code).toBe(0);
    expect(old.stderr).not.toContain('sha256');
  });
});

describe('each run loads only what it uses', () => {
  test('--version loads neither got nor the library', async () => {
    const { code, loaded } = await runRecordingLoads(['--version']);

    expect(code).toBe(0);
    expect(loaded.some((url) => url.endsWith('/dist/cli/main.js'))).toBe(true);
    expect(loaded.filter((url) => url.includes('/node_modules/'))).toEqual([]);
    expect(loaded.filter((url) => url.includes('/dist/lib/index.js') || url.includes('/dist/cli/upload.js'))).toEqual([]);
  });

  test('an upload without a terminal loads no progress bar, no tus server and no native crc', async () => {
    const { code, loaded } = await runRecordingLoads([fx.file, fx.sink.url]);

    expect(code).toBe(0);
    expect(loaded.some((url) => url.includes('/node_modules/got/'))).toBe(true);
    expect(loaded.filter((url) => /cli-progress|progress-bar|@tus\/|crc32|cli\/receive/.test(url))).toEqual([]);
  });
});

describe("each upload loads its own mode's code and no other's", () => {
  // Every mode's options are read at construction; the transports, protocols and the spool load on first use.
  const modeCode = (loaded: string[]): string[] =>
    loaded
      .map((url) => /\/dist\/lib\/modes\/(.+)$/.exec(url)?.[1])
      .filter(
        (file): file is string =>
          file !== undefined && /^((stream|batch|tus|parts)\/transport|(s3|azure-blob)\/protocol|batch\/spool\/(spool|intake))\.js$/.test(file),
      )
      .sort();

  test('stream: only the stream transport', async () => {
    const { code, loaded } = await runRecordingLoads([fx.file, fx.sink.url]);

    expect(code).toBe(0);
    // tus/protocol.js is fetchTusOffset's home, exported by the library.
    expect(modeCode(loaded)).toEqual(['stream/transport.js']);
  });

  test('batch: the batch transport; the spool only with --spool', async () => {
    const plain = await runRecordingLoads(['--mode', 'batch', fx.file, fx.sink.url]);
    const spooled = await runRecordingLoads(['--mode', 'batch', '--spool', join(fx.dir, 'spool'), fx.file, fx.sink.url]);

    expect([plain.code, spooled.code]).toEqual([0, 0]);
    expect(modeCode(plain.loaded)).toEqual(['batch/transport.js']);
    expect(modeCode(spooled.loaded)).toEqual(['batch/spool/intake.js', 'batch/spool/spool.js', 'batch/transport.js']);
  });
});

describe('the hasher of --sha256 and --digest', () => {
  const chunks = Array.from({ length: 40 }, (_, index) => pattern(256 * 1024 + index, index));
  const expected = sha256(Buffer.concat(chunks));
  const expected512 = createHash('sha512').update(Buffer.concat(chunks)).digest();

  test.each([
    ['one CPU: on the main thread', 1],
    ['two CPUs: on a worker thread', 2],
  ])('%s: both digests of every byte, in one pass, in order, while the caller reuses its buffer', async (_name, threads) => {
    const hasher = createHasher(['sha256', 'sha512'], threads);
    const reused = Buffer.alloc(512 * 1024);
    let waits = 0;
    for (const chunk of chunks) {
      chunk.copy(reused);
      const behind = hasher.update(reused.subarray(0, chunk.length));
      // The same buffer is overwritten at once: a worker must have had its own copy.
      reused.fill(0);
      if (behind) {
        waits++;
        await behind;
      }
    }

    const digests = await hasher.digest();
    expect(digests.sha256!.toString('hex')).toBe(expected);
    expect(digests.sha512).toEqual(expected512);
    // 10 MiB in a row: a worker that cannot keep up asks the caller to wait rather than queue it all.
    if (threads === 1) expect(waits).toBe(0);
  });
});
