import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { mkdir, open } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { loadTusHandler, TUS_MISSING, TUS_PATH, type TusHandler } from './receive-tus.js';
import { Sha256Transform } from './sha256-transform.js';
import { parseDigits } from './units.js';

export interface ReceiveServerOptions {
  /** 0 (default) picks a free port. */
  port?: number;
  /** Where uploads are stored (created if missing). Default `received`. */
  dir?: string;
  /** One line per upload; default: stderr. */
  log?: (line: string) => void;
}

export interface ReceiveServer {
  /** `http://127.0.0.1:PORT`: stream and batch uploads go to any path, tus to `${url}/tus`. */
  url: string;
  /** The absolute storage directory. */
  dir: string;
  /** Whether tus uploads are served (@tus/server and @tus/file-store could be loaded). */
  tus: boolean;
  close(): Promise<void>;
}

/** What the server answers for each stored upload (and each batch). */
export interface Stored {
  bytes: number;
  sha256: string;
  /** Path of the file, relative to the storage directory. */
  file: string;
}

/**
 * A receiving server for local use: stores stream uploads (chunked or sized)
 * one file each, batch requests at their `Batch-Offset` in one file per
 * upload (duplicates by `Idempotency-Key` dropped), and tus uploads through
 * @tus/server, and answers each with JSON `{ bytes, sha256, file }`.
 * Listens on 127.0.0.1 only.
 */
export async function startReceiveServer({
  port = 0,
  dir = 'received',
  log = (line) => process.stderr.write(`${line}\n`),
}: ReceiveServerOptions = {}): Promise<ReceiveServer> {
  const root = resolve(dir);
  await mkdir(root, { recursive: true });
  const tus = await loadTusHandler(join(root, 'tus'), log);
  const batches = new Map<string, Promise<Stored>>();
  let streams = 0;

  const server = createServer((request, response) => {
    const path = new URL(request.url ?? '/', 'http://localhost').pathname;
    let handled: Promise<void>;
    if (path === TUS_PATH || path.startsWith(`${TUS_PATH}/`)) handled = serveTus(tus, request, response);
    else if (!['POST', 'PUT', 'PATCH'].includes(request.method ?? ''))
      handled = answerText(response, 405, 'bhw receive takes POST, PUT or PATCH uploads\n', { allow: 'POST, PUT, PATCH' });
    else if (request.headers['batch-sequence'] !== undefined) handled = receiveBatch(request, response, root, batches, log);
    else handled = receiveStream(request, response, root, `stream-${++streams}.bin`, log);
    handled.catch((error: Error) => log(`${request.method} ${path}: ${error.message}`));
  });
  server.listen(port, '127.0.0.1');
  await once(server, 'listening');

  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    dir: root,
    tus: tus !== undefined,
    close: async () => {
      server.close();
      server.closeAllConnections();
      if (server.listening) await once(server, 'close');
    },
  };
}

/** One stream-mode upload: the whole body is one file. */
async function receiveStream(request: IncomingMessage, response: ServerResponse, root: string, file: string, log: (line: string) => void): Promise<void> {
  const hasher = new Sha256Transform();
  try {
    await pipeline(request, hasher, createWriteStream(join(root, file)));
  } catch (error) {
    log(`stream ${request.method} ${request.url}: failed after ${hasher.bytes} bytes (kept in ${file}): ${(error as Error).message}`);
    if (!response.headersSent && !response.destroyed) await answerText(response, 500, `upload failed: ${(error as Error).message}\n`);
    return;
  }
  const stored: Stored = { bytes: hasher.bytes, sha256: hasher.digest(), file };
  log(`stream ${request.method} ${request.url}: ${stored.bytes} bytes, sha256 ${stored.sha256} -> ${file}`);
  await answerJson(response, 200, stored);
}

/**
 * One batch: written at its `Batch-Offset` into the upload's file, so batches
 * arriving out of order (concurrency > 1, retries) still make the exact
 * concatenation. A repeated `Idempotency-Key` is answered with the first
 * attempt's result and not stored again.
 */
async function receiveBatch(
  request: IncomingMessage,
  response: ServerResponse,
  root: string,
  seen: Map<string, Promise<Stored>>,
  log: (line: string) => void,
): Promise<void> {
  const sequence = parseDigits(header(request, 'batch-sequence'));
  const offset = parseDigits(header(request, 'batch-offset'));
  if (sequence === undefined || offset === undefined) {
    request.resume();
    return answerText(response, 400, 'a batch needs integer Batch-Sequence and Batch-Offset headers\n');
  }
  const key = header(request, 'idempotency-key');
  const file = `batch-${uploadId(key, sequence, request.url ?? '/')}.bin`;
  const earlier = key === undefined ? undefined : seen.get(key);
  if (earlier) {
    // Wait for the first attempt: if it failed after all, this body is stored instead.
    const stored = await earlier.catch(() => undefined);
    if (stored) {
      request.resume();
      log(`batch ${sequence} at ${offset}: duplicate Idempotency-Key ${key}, dropped`);
      return answerJson(response, 200, { ...stored, sequence, duplicate: true });
    }
  }
  const storing = storeAt(request, join(root, file), offset).then((digest): Stored => ({ ...digest, file }));
  if (key !== undefined) seen.set(key, storing);
  let stored: Stored;
  try {
    stored = await storing;
  } catch (error) {
    if (key !== undefined) seen.delete(key); // a later retry must be stored
    log(`batch ${sequence} at ${offset}: failed: ${(error as Error).message}`);
    if (!response.headersSent && !response.destroyed) await answerText(response, 500, `batch failed: ${(error as Error).message}\n`);
    return;
  }
  log(`batch ${sequence} at ${offset}: ${stored.bytes} bytes, sha256 ${stored.sha256} -> ${file}`);
  await answerJson(response, 200, { ...stored, sequence });
}

/** Writes a (possibly gzipped) body at `offset` in `path`, creating the file if needed, without truncating it. */
async function storeAt(request: IncomingMessage, path: string, offset: number): Promise<{ bytes: number; sha256: string }> {
  await (await open(path, 'a')).close();
  const hasher = new Sha256Transform();
  const out = createWriteStream(path, { flags: 'r+', start: offset });
  // Batch-Offset counts uncompressed bytes: store what the gzip body decodes to.
  if (request.headers['content-encoding'] === 'gzip') await pipeline(request, createGunzip(), hasher, out);
  else await pipeline(request, hasher, out);
  return { bytes: hasher.bytes, sha256: hasher.digest() };
}

/** Batches of one upload share a file: the key is `<upload id>-<sequence>` (README, batch mode); other keys group by path. */
function uploadId(key: string | undefined, sequence: number, url: string): string {
  const suffix = `-${sequence}`;
  const id = key?.endsWith(suffix) && key.length > suffix.length ? key.slice(0, -suffix.length) : new URL(url, 'http://localhost').pathname;
  return id.replace(/[^\w.-]+/g, '_').replace(/^[_.]+/, '') || 'root';
}

async function serveTus(tus: TusHandler | undefined, request: IncomingMessage, response: ServerResponse): Promise<void> {
  if (tus) return tus(request, response);
  request.resume();
  return answerText(response, 501, `${TUS_MISSING}\n`);
}

function header(request: IncomingMessage, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function answerJson(response: ServerResponse, status: number, body: object): Promise<void> {
  response.writeHead(status, { 'content-type': 'application/json' });
  return new Promise((resolve) => response.end(`${JSON.stringify(body)}\n`, resolve));
}

function answerText(response: ServerResponse, status: number, text: string, headers: Record<string, string> = {}): Promise<void> {
  response.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', ...headers });
  return new Promise((resolve) => response.end(text, resolve));
}
