/**
 * `uploadFile(0, url)` in a process that imported got (which makes descriptor
 * 0 non-blocking), with a writer slower than the reader: a real pipe made by
 * the shell, and the socket Node gives a child as its stdin. The writer sends
 * the second part only after the child has read the first, so the child
 * finds its stdin empty at least once. Each case checks the bytes the server
 * stored.
 */
import { afterEach, describe, expect, test } from '@jest/globals';
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { closeSync, openSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { ErrorCodes, SourceReadError, uploadFile } from '../../lib/index.js';
import { killChildren, spawnChild } from '../helpers/children.js';
import { pattern } from '../helpers/data.js';
import { sha256, startSink, type Sink } from '../helpers/sink-server.js';

/** The built library: `npm test` builds before jest; during development run `npm run build` first. */
const LIBRARY = fileURLToPath(new URL('../../dist/lib/index.js', import.meta.url));

const data = pattern(256 * 1024 + 123);
const highWaterMark = 16 * 1024;
/** One buffer: once the child has read it, its next read finds stdin empty. */
const firstPart = highWaterMark;

/** Uploads its stdin; says on descriptor 3 when it has read the first part, and prints the outcome as JSON. */
const CHILD = `
  const { writeSync } = await import('node:fs');
  const { uploadFile } = await import(${JSON.stringify(LIBRARY)});
  let read = 0;
  const onRead = (bytes) => {
    read += bytes.length;
    if (read === ${firstPart}) writeSync(3, 'read\\n');
  };
  try {
    const result = await uploadFile(0, process.env.BHW_URL, { highWaterMark: ${highWaterMark}, onRead });
    process.stdout.write(JSON.stringify({ ok: true, bytesAcknowledged: result.bytesAcknowledged }));
  } catch (error) {
    const { name, code, message, bytesSent } = error;
    process.stdout.write(JSON.stringify({ ok: false, name, code, message, bytesSent }));
  }
`;

let sink: Sink | undefined;
afterEach(async () => {
  await killChildren();
  await sink?.close();
  sink = undefined;
});

/** Feeds `data` to the child's stdin in two parts, the second once the child has read the first; resolves with its outcome. */
async function slowWriter(child: ChildProcess): Promise<Record<string, unknown>> {
  const stdin = child.stdin as Writable;
  let output = '';
  child.stdout!.setEncoding('utf8').on('data', (text: string) => (output += text));
  const exited = once(child, 'close');
  stdin.write(data.subarray(0, firstPart));
  await once(child.stdio[3] as Readable, 'data');
  stdin.end(data.subarray(firstPart));
  await exited;
  return JSON.parse(output) as Record<string, unknown>;
}

describe('uploadFile(0) after got was imported, the writer slower than the reader', () => {
  test('a pipe made by the shell: exact on the server, no EAGAIN', async () => {
    sink = await startSink();
    // `cat` turns the socket Node gives the shell into an anonymous pipe for the child.
    const child = spawnChild('sh', ['-c', 'cat | "$0" --input-type=module -e "$1"', process.execPath, CHILD], {
      stdio: ['pipe', 'pipe', 'inherit', 'pipe'],
      env: { ...process.env, BHW_URL: sink.url },
    });
    const outcome = await slowWriter(child);

    expect(outcome).toEqual({ ok: true, bytesAcknowledged: data.length });
    expect(sink.received[0]!.sha256).toBe(sha256(data));
  });

  test('a socket (what Node gives a child as stdin): exact on the server, no EAGAIN', async () => {
    sink = await startSink();
    const child = spawnChild(process.execPath, ['--input-type=module', '-e', CHILD], {
      stdio: ['pipe', 'pipe', 'inherit', 'pipe'],
      env: { ...process.env, BHW_URL: sink.url },
    });
    const outcome = await slowWriter(child);

    expect(outcome).toEqual({ ok: true, bytesAcknowledged: data.length });
    expect(sink.received[0]!.sha256).toBe(sha256(data));
  });
});

describe('a descriptor that cannot be read', () => {
  test('is a SourceReadError with the figures, not a bare system error', async () => {
    sink = await startSink();
    const dir = await mkdtemp(join(tmpdir(), 'bhw-descriptor-'));
    const fd = openSync(dir, 'r');
    try {
      const error = await uploadFile(fd, sink.url).then(
        () => undefined,
        (error: unknown) => error,
      );
      expect(error).toBeInstanceOf(SourceReadError);
      expect(error).toMatchObject({ code: ErrorCodes.SOURCE_READ, systemCode: 'EISDIR', source: `file descriptor ${fd}`, bytesSent: 0, bytesWritten: 0 });
    } finally {
      closeSync(fd);
      await rm(dir, { recursive: true });
    }
  });
});
