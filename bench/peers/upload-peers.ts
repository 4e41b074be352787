/**
 * W1 / W4 / highWaterMark sweep: one file, read with `fs.createReadStream`,
 * uploaded by each peer the way its documentation shows. Each peer is loaded
 * with a dynamic import so a process pays only for the library it measures.
 * Every peer returns the byte count the sink answered, which the client checks.
 */
import { createReadStream } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { DigestAlgorithm } from '../../lib/index.js';

export interface UploadSpec {
  /** HTTP sink URL. */
  url: string;
  /** Raw TCP sink port. */
  tcpPort: number;
  file: string;
  /** Bytes of the file to send (from its start). */
  bytes: number;
  /** `highWaterMark` of `fs.createReadStream`: the size of each read. */
  readSize: number;
  /** This library's `highWaterMark`; its default when absent. */
  highWaterMark?: number;
  /** This library's `digest` option (off when absent). */
  digest?: DigestAlgorithm;
}

export const UPLOAD_PEERS = [
  'bhw',
  'bhw:uploadFile',
  'http.request',
  'got.stream',
  'undici.request',
  'fetch',
  'tcp',
  'floor:file-read',
  'floor:tcp-1MiB-writes',
  'floor:tcp-double-buffer',
] as const;
export type UploadPeer = (typeof UPLOAD_PEERS)[number];

function source(spec: UploadSpec): Readable {
  return createReadStream(spec.file, { highWaterMark: spec.readSize, start: 0, end: spec.bytes - 1 });
}

/** The sink's `{"bytes":N}` answer. */
export function bytesOf(text: string): number {
  const parsed = JSON.parse(text) as { bytes?: unknown };
  if (typeof parsed.bytes !== 'number') throw new Error(`sink answered ${text}`);
  return parsed.bytes;
}

export async function readText(body: AsyncIterable<Buffer | string>): Promise<string> {
  let text = '';
  for await (const chunk of body) text += chunk.toString();
  return text;
}

export function httpAnswer(request: http.ClientRequest): Promise<string> {
  return new Promise((resolve, reject) => {
    request.on('error', reject);
    request.on('response', (response) => {
      if (response.statusCode !== 200) reject(new Error(`status ${response.statusCode}`));
      readText(response).then(resolve, reject);
    });
  });
}

/** The library's options a spec asks for: `highWaterMark` and `digest`, each only when given. */
export function libraryOptions(spec: { highWaterMark?: number; digest?: DigestAlgorithm }): { highWaterMark?: number; digest?: DigestAlgorithm } {
  return {
    ...(spec.highWaterMark === undefined ? {} : { highWaterMark: spec.highWaterMark }),
    ...(spec.digest === undefined ? {} : { digest: spec.digest }),
  };
}

export async function upload(peer: UploadPeer, spec: UploadSpec): Promise<number> {
  switch (peer) {
    case 'bhw': {
      const { BufferedHttpWritable } = await import('../../lib/index.js');
      const destination = new BufferedHttpWritable(spec.url, libraryOptions(spec));
      await pipeline(source(spec), destination);
      return bytesOf(destination.response!.body);
    }
    case 'bhw:uploadFile': {
      // Reads straight into the pool's buffers: the read size is the library's highWaterMark, not readSize.
      const { uploadFile } = await import('../../lib/index.js');
      const result = await uploadFile(spec.file, spec.url, { ...libraryOptions(spec), declareSize: false });
      return bytesOf(result.response!.body);
    }
    case 'http.request': {
      const request = http.request(spec.url, { method: 'POST' });
      const answer = httpAnswer(request);
      await pipeline(source(spec), request);
      return bytesOf(await answer);
    }
    case 'got.stream': {
      const { default: got } = await import('got');
      let text = '';
      await pipeline(source(spec), got.stream.post(spec.url), async (body: AsyncIterable<Buffer>) => {
        text = await readText(body);
      });
      return bytesOf(text);
    }
    case 'undici.request': {
      const { request } = await import('undici');
      const response = await request(spec.url, { method: 'POST', body: source(spec) });
      if (response.statusCode !== 200) throw new Error(`status ${response.statusCode}`);
      return bytesOf(await response.body.text());
    }
    case 'fetch': {
      const body = Readable.toWeb(source(spec)) as unknown as ReadableStream;
      const response = await fetch(spec.url, { method: 'POST', body, duplex: 'half' });
      if (response.status !== 200) throw new Error(`status ${response.status}`);
      return bytesOf(await response.text());
    }
    case 'tcp': {
      const socket = net.connect({ host: '127.0.0.1', port: spec.tcpPort });
      const answer = readText(socket);
      source(spec).pipe(socket);
      return bytesOf(await answer);
    }
    case 'floor:file-read': {
      let bytes = 0;
      const discard = new Writable({
        write(chunk: Buffer, _encoding, callback) {
          bytes += chunk.length;
          callback();
        },
      });
      await pipeline(source(spec), discard);
      return bytes;
    }
    case 'floor:tcp-1MiB-writes':
      return tcpFedFromMemory(spec, 1 << 20);
    case 'floor:tcp-double-buffer':
      return tcpDoubleBuffered(spec, spec.highWaterMark ?? 1 << 20);
  }
}

/**
 * What buffering itself can win on this machine: this library's data path
 * (copy every read into one of two fixed buffers, write a buffer to the socket
 * when it is full, one write in flight) on a raw TCP socket, without HTTP,
 * got or the library's code.
 */
async function tcpDoubleBuffered(spec: UploadSpec, bufferSize: number): Promise<number> {
  const socket = net.connect({ host: '127.0.0.1', port: spec.tcpPort });
  const answer = readText(socket);
  const free = [Buffer.allocUnsafeSlow(bufferSize), Buffer.allocUnsafeSlow(bufferSize)];
  let current = free.pop()!;
  let filled = 0;
  let inFlight: Promise<void> | undefined;
  const sendCurrent = async (): Promise<void> => {
    await inFlight; // its callback has put the other buffer back
    const buffer = current;
    const bytes = buffer.subarray(0, filled);
    inFlight = new Promise((resolve, reject) => {
      socket.write(bytes, (error) => {
        if (error) return reject(error);
        free.push(buffer);
        resolve();
      });
    });
    current = free.pop()!;
    filled = 0;
  };
  const take = async (chunk: Buffer): Promise<void> => {
    for (let offset = 0; offset < chunk.length;) {
      const length = Math.min(chunk.length - offset, bufferSize - filled);
      chunk.copy(current, filled, offset, offset + length);
      filled += length;
      offset += length;
      if (filled === bufferSize) await sendCurrent();
    }
  };
  const destination = new Writable({
    highWaterMark: bufferSize,
    write(chunk: Buffer, _encoding, callback) {
      take(chunk).then(() => callback(), callback);
    },
    final(callback) {
      (async () => {
        if (filled > 0) await sendCurrent();
        await inFlight;
        socket.end();
      })().then(() => callback(), callback);
    },
  });
  await pipeline(source(spec), destination);
  return bytesOf(await answer);
}

/** The ceiling of the socket alone: the same bytes from one preallocated buffer, no file, no HTTP. */
async function tcpFedFromMemory(spec: UploadSpec, writeSize: number): Promise<number> {
  const socket = net.connect({ host: '127.0.0.1', port: spec.tcpPort });
  const answer = readText(socket);
  const block = Buffer.alloc(writeSize, 0x61);
  let left = spec.bytes;
  while (left > 0) {
    const chunk = left >= block.length ? block : block.subarray(0, left);
    left -= chunk.length;
    if (!socket.write(chunk)) await new Promise((resolve) => socket.once('drain', resolve));
  }
  socket.end();
  return bytesOf(await answer);
}
