import { afterEach, beforeEach, describe, expect, test } from '@jest/globals';
import { once } from 'node:events';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileStore } from '@tus/file-store';
import { Server as TusServer } from '@tus/server';
import { killRunningClis, runCli, spawnCli } from '../helpers/cli.js';
import { pattern } from '../helpers/data.js';
import { sha256 } from '../helpers/sink-server.js';

/**
 * A real @tus/server whose PATCHes after the first can be held unanswered or
 * refused with a 403 (never handed to tus), so an upload stops at a known
 * offset: one buffer.
 */
interface StallingTusServer {
  url: string;
  fault: 'stall' | 'forbid' | 'none';
  /** The method of every request that arrived, in order. */
  methods: string[];
  /** Resolves when a PATCH is being held. */
  stalled: Promise<void>;
  stored(uploadUrl: string): Promise<Buffer>;
  close(): Promise<void>;
}

async function startStallingTusServer(dir: string): Promise<StallingTusServer> {
  const tus = new TusServer({ path: '/files', datastore: new FileStore({ directory: dir }), lockDrainTimeout: 100 });
  let patches = 0;
  let onStall!: () => void;
  const server: StallingTusServer = {
    url: '',
    fault: 'stall',
    methods: [],
    stalled: new Promise((resolve) => (onStall = resolve)),
    stored: (uploadUrl) => readFile(join(dir, uploadUrl.split('/').at(-1)!)),
    close: async () => {
      http.closeAllConnections();
      http.close();
      await once(http, 'close');
    },
  };
  const http: Server = createServer((request, response) => {
    server.methods.push(request.method ?? '');
    if (server.fault !== 'none' && request.method === 'PATCH' && patches++ >= 1) {
      if (server.fault === 'forbid') {
        request.resume();
        response.writeHead(403).end('quota exceeded');
      } else onStall();
      return;
    }
    void tus.handle(request, response);
  });
  http.listen(0, '127.0.0.1');
  await once(http, 'listening');
  server.url = `http://127.0.0.1:${(http.address() as AddressInfo).port}/files`;
  return server;
}

describe('bhw --resume continues a tus upload cut short', () => {
  let dir: string;
  let file: string;
  let tus: StallingTusServer;
  const data = pattern(1_000_000);
  const buffer = 64 * 1024;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'bhw-cli-tus-'));
    file = join(dir, 'data.bin');
    await writeFile(file, data);
    tus = await startStallingTusServer(join(dir, 'store'));
  });
  afterEach(async () => {
    await killRunningClis();
    await tus.close();
    await rm(dir, { recursive: true, force: true });
  });

  /** Starts an upload, interrupts it once the server holds one buffer, and returns the printed resume command's arguments. */
  async function cutShort(source: string, input?: Buffer): Promise<{ uploadUrl: string; args: string[] }> {
    const args = ['--mode', 'tus', '--high-water-mark', '64KiB', source, tus.url];
    const cli = spawnCli(args, input ? { input, keepStdinOpen: true } : {});
    await tus.stalled;
    cli.child.kill('SIGINT');
    const result = await cli.exited;
    expect(result.code).toBe(130);
    const [, command, uploadUrl] = result.stderr.match(/\nbhw: to continue: (bhw --resume (\S+) .*)\n/) as unknown as [string, string, string];
    expect(command).toBe(`bhw --resume ${uploadUrl} ${args.join(' ')}`);
    tus.fault = 'none';
    return { uploadUrl, args: command.split(' ').slice(1) };
  }

  test('a file: read from the server offset, the stored upload is exact', async () => {
    const { uploadUrl, args } = await cutShort(file);
    const result = await runCli(['--sha256', ...args]);

    expect(result.code).toBe(0);
    expect(sha256(await tus.stored(uploadUrl))).toBe(sha256(data));
    expect(result.stderr).toMatch(new RegExp(`^bhw: uploaded ${data.length - buffer} bytes \\([\\d.]+ KiB\\) from offset ${buffer} in `));
    expect(result.stderr).toContain(`sha256 ${sha256(data.subarray(buffer))}`);
  });

  test('a file: one HEAD before the first PATCH, the stored upload is exact', async () => {
    const { uploadUrl, args } = await cutShort(file);
    // The first run has exited: every request from here on is the resumed run's.
    tus.methods.length = 0;
    const result = await runCli(args);

    expect(result.code).toBe(0);
    expect(tus.methods.slice(0, tus.methods.indexOf('PATCH'))).toEqual(['HEAD']);
    expect(tus.methods.filter((method) => method === 'HEAD')).toHaveLength(1);
    expect(sha256(await tus.stored(uploadUrl))).toBe(sha256(data));
  });

  test('stdin: one HEAD before the first PATCH, the stored upload is exact', async () => {
    const { uploadUrl, args } = await cutShort('-', data);
    tus.methods.length = 0;
    const result = await runCli(args, { input: data });

    expect(result.code).toBe(0);
    expect(tus.methods.slice(0, tus.methods.indexOf('PATCH'))).toEqual(['HEAD']);
    expect(tus.methods.filter((method) => method === 'HEAD')).toHaveLength(1);
    expect(sha256(await tus.stored(uploadUrl))).toBe(sha256(data));
  });

  test('stdin: the bytes before the server offset are skipped', async () => {
    const { uploadUrl, args } = await cutShort('-', data);
    const result = await runCli(['--sha256', '--json', ...args], { input: data });

    expect(result.code).toBe(0);
    expect(sha256(await tus.stored(uploadUrl))).toBe(sha256(data));
    expect(JSON.parse(result.stdout)).toMatchObject({
      bytes: data.length - buffer,
      offset: buffer,
      mode: 'tus',
      uploadUrl,
      sha256: sha256(data.subarray(buffer)),
    });
  });

  test('stdin shorter than the server offset: exit 2, and the upload is not completed at the wrong length', async () => {
    const { uploadUrl, args } = await cutShort('-', data);
    const result = await runCli(args, { input: data.subarray(0, 1000) });

    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/^bhw: input ended 64536 bytes short of the resume offset: the input must carry the same bytes as in the first run\n$/);
    expect((await tus.stored(uploadUrl)).length).toBe(buffer);
  });

  test('a file shorter than the server offset: exit 2', async () => {
    const { args } = await cutShort(file);
    await writeFile(file, data.subarray(0, 1000));
    const result = await runCli(args);

    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/has 1000 bytes, fewer than the 65536 the server already holds\n$/);
  });

  test('exit 1 says how far it got and prints the command that completes the upload', async () => {
    tus.fault = 'forbid';
    const args = ['--mode', 'tus', '--high-water-mark', '64KiB', file, tus.url];
    const failed = await runCli(args);

    expect(failed.code).toBe(1);
    const [first, second, rest] = failed.stderr.split('\n');
    expect(first).toMatch(
      /^bhw: upload failed: Server answered 403 Forbidden: quota exceeded \(sent \d+ of 1000000 bytes, 65536 acknowledged; the server holds 65536 bytes of the upload\)$/,
    );
    const [, uploadUrl] = second!.match(/^bhw: to continue: bhw --resume (\S+) /)!;
    expect(second).toBe(`bhw: to continue: bhw --resume ${uploadUrl} ${args.join(' ')}`);
    expect(rest).toBe('');

    tus.fault = 'none';
    const resumed = await runCli(second!.split(' ').slice(4));
    expect(resumed.code).toBe(0);
    expect(sha256(await tus.stored(uploadUrl!))).toBe(sha256(data));
  });

  test('an upload the server does not know: exit 1', async () => {
    const missing = `${tus.url}/0123456789abcdef`;
    const result = await runCli(['--resume', missing, file, tus.url]);

    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(new RegExp(`^bhw: cannot resume ${missing}: Server answered 404`));
  });
});
