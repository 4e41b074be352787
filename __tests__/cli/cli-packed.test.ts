/**
 * The package as users get it: `npm pack`, installed into a fresh project with
 * production dependencies only. The library's install holds no tus server;
 * `bhw receive` still starts without it, says so, and answers tus with 501,
 * and serves tus once the user installs @tus/server and @tus/file-store.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { execFile, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import got from 'got';
import { CLI_PATH, killRunningClis, runCli, spawnCli, type CliProcess } from '../helpers/cli.js';
import { pattern } from '../helpers/data.js';
import { sha256, startSink } from '../helpers/sink-server.js';

const run = promisify(execFile);
const root = new URL('../..', import.meta.url).pathname;
const npmAvailable = spawnSync('npm', ['--version'], { stdio: 'ignore' }).status === 0;
if (!npmAvailable) console.warn('cli-packed.test.ts skipped: npm is not available on PATH, so the package cannot be packed and installed');
const describeWithNpm = npmAvailable ? describe : describe.skip;

describeWithNpm('bhw from the packed tarball, production dependencies only', () => {
  let work: string;
  let project: string;
  let bhw: string;
  const data = pattern(300_000);

  beforeAll(async () => {
    // The tarball packs dist/: `npm test` builds before jest runs.
    expect(existsSync(CLI_PATH)).toBe(true);
    work = await mkdtemp(join(tmpdir(), 'bhw-packed-'));
    project = join(work, 'project');
    await mkdir(project);
    // --ignore-scripts: `npm test` built dist/ already, and a rebuild here would
    // rewrite files the other test files are running (cli-pack-clone.test.ts packs with the build).
    const { stdout } = await run('npm', ['pack', '--silent', '--ignore-scripts', '--pack-destination', work], { cwd: root });
    const tarball = join(work, stdout.trim().split('\n').at(-1)!);
    await writeFile(join(project, 'package.json'), JSON.stringify({ name: 'bhw-packed-test', private: true }));
    await install([tarball]);
    bhw = join(project, 'node_modules', '.bin', 'bhw');
    await writeFile(join(work, 'data.bin'), data);
  }, 120_000);
  afterAll(async () => {
    await killRunningClis();
    await rm(work, { recursive: true, force: true });
  });

  /** npm install into the project; everything should be in npm's cache, and a package missing from it is fetched. */
  async function install(packages: string[]): Promise<void> {
    const args = ['install', '--omit=dev', '--no-audit', '--no-fund', ...packages];
    await run('npm', [...args, '--offline'], { cwd: project }).catch(() => run('npm', [...args, '--prefer-offline'], { cwd: project }));
  }

  async function startReceive(dir: string): Promise<{ receiver: CliProcess; url: string }> {
    const receiver = spawnCli(['receive', '--port', '0', '--dir', dir], { executable: bhw, cwd: project });
    const [, url] = await receiver.waitFor('stdout', /listening on (http:\/\/127\.0\.0\.1:\d+) /);
    return { receiver, url: url! };
  }

  test('the package holds the library and the CLI, nothing of the tests', async () => {
    const installed = join(project, 'node_modules', 'buffered-http-writable', 'dist');
    expect((await readdir(installed)).sort()).toEqual(['cli', 'lib']);
    expect(await readdir(join(installed, 'lib'))).toContain('index.js');
    expect(await readdir(join(installed, 'cli'))).toContain('main.js');
  });

  test('both entry points resolve: the upload API, and the redaction rules at /redact (with their types)', async () => {
    const installed = join(project, 'node_modules', 'buffered-http-writable');
    const { exports } = JSON.parse(await readFile(join(installed, 'package.json'), 'utf8')) as { exports: Record<string, Record<string, string>> };
    expect(Object.keys(exports).sort()).toEqual(['.', './redact']);
    for (const entry of Object.values(exports)) for (const target of Object.values(entry)) expect(existsSync(join(installed, target))).toBe(true);

    const probe = [
      "const main = await import('buffered-http-writable');",
      "const redact = await import('buffered-http-writable/redact');",
      'console.log(JSON.stringify({ main: typeof main.BufferedHttpWritable, mainRedact: typeof main.redactUrl,',
      "  redactUrl: redact.redactUrl('https://u:p@h/x?sig=s&part=1'), REDACTED: redact.REDACTED }));",
    ].join('\n');
    const { stdout } = await run(process.execPath, ['--input-type=module', '-e', probe], { cwd: project });
    expect(JSON.parse(stdout)).toEqual({ main: 'function', mainRedact: 'undefined', redactUrl: 'https://h/x?sig=[REDACTED]&part=1', REDACTED: '[REDACTED]' });
  });

  test('a CommonJS app require()s both entry points and uploads', async () => {
    const sink = await startSink();
    try {
      const app = [
        "const { createReadStream } = require('node:fs');",
        "const { pipeline } = require('node:stream/promises');",
        "const { BufferedHttpWritable } = require('buffered-http-writable');",
        "const { redactUrl } = require('buffered-http-writable/redact');",
        'const [file, url] = process.argv.slice(2);',
        'const upload = new BufferedHttpWritable(url, { highWaterMark: 64 * 1024 });',
        'pipeline(createReadStream(file), upload).then(() => {',
        "  console.log(JSON.stringify({ status: upload.response.statusCode, acknowledged: upload.bytesAcknowledged, redacted: redactUrl('https://h/x?sig=s') }));",
        '});',
      ].join('\n');
      await writeFile(join(project, 'app.cjs'), app);
      const { stdout, stderr } = await run(process.execPath, ['app.cjs', join(work, 'data.bin'), `${sink.url}/cjs`], { cwd: project });
      expect(JSON.parse(stdout)).toEqual({ status: 200, acknowledged: data.length, redacted: 'https://h/x?sig=[REDACTED]' });
      expect(stderr).toBe('');
      expect(sink.received.map((request) => request.sha256)).toEqual([sha256(data)]);
    } finally {
      await sink.close();
    }
  });

  test('the library installs without a tus server: no @tus, no redis client', async () => {
    const installed = await readdir(join(project, 'node_modules'));
    expect(installed).toContain('buffered-http-writable');
    expect(installed.filter((name) => ['@tus', '@redis', 'ioredis'].includes(name))).toEqual([]);
  });

  test('without the tus packages bhw receive says what to install, answers tus with 501 and still stores stream uploads', async () => {
    const { receiver, url } = await startReceive(join(work, 'store-plain'));
    expect(receiver.stdout).toContain('tus unavailable');
    await receiver.waitFor(
      'stderr',
      /^bhw receive: tus uploads need @tus\/server and @tus\/file-store, which are not installed: npm install @tus\/server @tus\/file-store\n/,
    );

    const tus = await got.post(`${url}/tus`, { headers: { 'tus-resumable': '1.0.0', 'upload-length': '3' }, throwHttpErrors: false, retry: { limit: 0 } });
    expect(tus.statusCode).toBe(501);
    expect(tus.body).toMatch(/npm install @tus\/server @tus\/file-store/);
    const stream = await runCli([join(work, 'data.bin'), `${url}/x`], { executable: bhw, cwd: project });
    expect(stream.code).toBe(0);
    expect(JSON.parse(stream.stdout)).toMatchObject({ sha256: sha256(data) });

    receiver.child.kill('SIGTERM');
    expect((await receiver.exited).code).toBe(0);
  });

  test('after npm install @tus/server @tus/file-store, bhw receive serves tus: an upload with the installed bhw is stored exactly', async () => {
    // The versions this repository tests with (its devDependencies), which the package also names as optional peers.
    const { devDependencies } = JSON.parse(await readFile(join(root, 'package.json'), 'utf8')) as { devDependencies: Record<string, string> };
    await install(['@tus/server', '@tus/file-store'].map((name) => `${name}@${devDependencies[name]}`));

    const store = join(work, 'store-tus');
    const { receiver, url } = await startReceive(store);
    expect(receiver.stdout).toContain(`tus at ${url}/tus`);

    const result = await runCli(['--mode', 'tus', '--json', '--high-water-mark', '64KiB', join(work, 'data.bin'), `${url}/tus`], {
      executable: bhw,
      cwd: project,
    });
    expect(result.code).toBe(0);
    const summary = JSON.parse(result.stdout) as { sha256: string; body: string };
    const answer = JSON.parse(summary.body) as { sha256: string; file: string };
    expect(answer.sha256).toBe(sha256(data));
    expect(sha256(await readFile(join(store, answer.file)))).toBe(sha256(data));

    receiver.child.kill('SIGTERM');
    expect((await receiver.exited).code).toBe(0);
  });

  test("the object stores' heavy packages are optional peers: without them the mode is refused at construction with the line that installs it", async () => {
    const installed = await readdir(join(project, 'node_modules'));
    expect(installed.filter((name) => ['@smithy', '@aws-sdk'].includes(name))).toEqual([]);
    const probe = [
      "const { BufferedHttpWritable } = await import('buffered-http-writable');",
      "const outcome = (url, options) => { try { new BufferedHttpWritable(url, options).destroy(); return 'built'; } catch (error) { return `${error.name}: ${error.message}`; } };",
      "const s3 = { mode: 's3', s3: { credentials: { accessKeyId: 'a', secretAccessKey: 'b' } } };",
      "const blob = 'http://127.0.0.1:1/account/container/blob?sv=1&sig=s';",
      "console.log(JSON.stringify({ s3: outcome('http://127.0.0.1:1/bucket/key', s3), crc64: outcome(blob, { mode: 'azure-blob', azureBlob: { checksum: 'crc64' } }),",
      "  md5: outcome(blob, { mode: 'azure-blob' }) }));",
    ].join('\n');
    const before = JSON.parse((await run(process.execPath, ['--input-type=module', '-e', probe], { cwd: project })).stdout) as Record<string, string>;
    expect(before).toEqual({
      s3: "TypeError: mode 's3' signs its requests with @smithy/signature-v4, an optional peer dependency that is not installed: npm install @smithy/signature-v4",
      crc64:
        "TypeError: azureBlob.checksum 'crc64' computes each block's CRC-64 with @aws-sdk/crc64-nvme, an optional peer dependency that is not installed: npm install @aws-sdk/crc64-nvme",
      md5: 'built',
    });

    const { devDependencies } = JSON.parse(await readFile(join(root, 'package.json'), 'utf8')) as { devDependencies: Record<string, string> };
    await install(['@smithy/signature-v4', '@aws-sdk/crc64-nvme'].map((name) => `${name}@${devDependencies[name]}`));
    const after = JSON.parse((await run(process.execPath, ['--input-type=module', '-e', probe], { cwd: project })).stdout) as Record<string, string>;
    expect(after).toEqual({ s3: 'built', crc64: 'built', md5: 'built' });
  });
});
