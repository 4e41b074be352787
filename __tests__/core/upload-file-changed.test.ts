import { afterEach, beforeEach, describe, expect, test } from '@jest/globals';
import { truncateSync, utimesSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileChangedError, uploadFile, type UploadFileOptions, type UploadFileResult } from '../../lib/index.js';
import { startBatchServer } from '../helpers/batch-server.js';
import { pattern } from '../helpers/data.js';
import { sha256, startSink } from '../helpers/sink-server.js';
import { startTusServer } from '../helpers/tus-server.js';

// A change that keeps the file's size: only its timestamps tell. Each test
// changes the file from `onRead` of the first buffer, so the rest of the file
// is read after the change, and the upload must not end as a success.

const highWaterMark = 64 * 1024;
const size = 8 * highWaterMark;
let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'bhw-file-changed-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/**
 * A file last modified long ago, as a file about to be uploaded usually is.
 * A change in the same clock tick as the file's previous change can leave
 * its timestamps as they were (the documented limit); an old mtime makes
 * every change below move it, on any kernel.
 */
async function agedFile(data: Buffer): Promise<string> {
  const path = join(dir, 'source.bin');
  await writeFile(path, data);
  const longAgo = new Date('2020-01-01T00:00:00Z');
  utimesSync(path, longAgo, longAgo);
  return path;
}

const changes: Array<[string, (path: string) => void]> = [
  ['rewritten in place at the same size', (path) => writeFileSync(path, pattern(size, 99), { flag: 'r+' })],
  ['truncated to 0 and rewritten', (path) => writeFileSync(path, pattern(size, 99))],
  [
    'truncated to half and extended back',
    (path) => {
      truncateSync(path, size / 2);
      truncateSync(path, size);
    },
  ],
];

/** One server per mode: the upload's URL, and how many of the file's bytes the server holds as the upload's content. */
interface ModeServer {
  url: string;
  options: UploadFileOptions;
  /** The bytes the server stored for the upload (stream: complete bodies only). */
  held(result?: UploadFileResult): Promise<Buffer>;
  close(): Promise<void>;
}

const modes: Array<[string, () => Promise<ModeServer>]> = [
  [
    'stream',
    async () => {
      const sink = await startSink();
      return {
        url: sink.url,
        options: {},
        held: async () => Buffer.concat(sink.received.map((request) => request.body)),
        close: () => sink.close(),
      };
    },
  ],
  [
    'batch',
    async () => {
      const server = await startBatchServer();
      return {
        url: server.url,
        options: { mode: 'batch', concurrency: 2 },
        held: async () => server.assembled(),
        close: () => server.close(),
      };
    },
  ],
  [
    'tus',
    async () => {
      const server = await startTusServer();
      return {
        url: server.url,
        options: { mode: 'tus' },
        held: async (result) => {
          const uploadUrl = result?.uploadUrl ?? server.created.at(-1);
          return uploadUrl === undefined ? Buffer.alloc(0) : (await server.stored(uploadUrl)).bytes;
        },
        close: () => server.close(),
      };
    },
  ],
];

describe.each(modes)('uploadFile in %s mode', (_mode, start) => {
  test.each(changes)('a file %s during the upload fails with ERR_BHW_FILE_CHANGED, never success', async (_label, change) => {
    const server = await start();
    try {
      const path = await agedFile(pattern(size, 7));
      let reads = 0;
      const error = await uploadFile(path, server.url, {
        ...server.options,
        highWaterMark,
        onRead: () => {
          if (reads++ === 0) change(path);
        },
      }).then(
        () => undefined,
        (failure: unknown) => failure as FileChangedError,
      );
      expect(error).toBeInstanceOf(FileChangedError);
      expect(error).toMatchObject({ code: 'ERR_BHW_FILE_CHANGED', path, expected: size, actual: size });
      expect(error!.changed).toEqual(expect.arrayContaining(['mtime']));
      expect(error!.message).toContain(path);
      // How far it got, as every error says: the last buffer was read, checked, and never handed over.
      expect(error!.bytesWritten).toBe(size - highWaterMark);
      expect(error!.bytesSent).toBeLessThanOrEqual(error!.bytesWritten);
      expect(error!.bytesAcknowledged).toBeLessThanOrEqual(error!.bytesSent);
      // The server never holds a whole upload of mixed content.
      expect((await server.held()).length).toBeLessThan(size);
    } finally {
      await server.close();
    }
  });

  test('an unchanged file resolves and the server holds exactly its bytes', async () => {
    const server = await start();
    try {
      const data = pattern(size + 123, 8);
      const path = await agedFile(data);
      const result = await uploadFile(path, server.url, { ...server.options, highWaterMark });
      expect(result).toMatchObject({ bytesWritten: data.length, bytesAcknowledged: data.length });
      expect(sha256(await server.held(result))).toBe(sha256(data));
    } finally {
      await server.close();
    }
  });
});
