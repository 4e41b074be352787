import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, open, rename, rm, type FileHandle } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { PassThrough } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { redactUrl } from '../lib/redact.js';
import { ByteLimit, TooLargeError } from './byte-limit.js';
import { printable } from './printable.js';
import { answerDigestProblem, BodyDigests, type DigestProblem, type DigestVerdict } from './receive-digest.js';
import { RecentMap } from './recent-map.js';
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
  /** The largest upload taken, in bytes (a batch upload: its file); larger ones are answered 413. Default `DEFAULT_RECEIVE_MAX_BYTES`. */
  maxBytes?: number;
  /** How many batch `Idempotency-Key`s are remembered to drop duplicates, the least recently seen forgotten first. Default `DEFAULT_RECEIVE_MAX_KEYS`. */
  maxKeys?: number;
}

/** 1 GiB: a local server for tests and demos should not let one client fill its disk. */
export const DEFAULT_RECEIVE_MAX_BYTES = 1024 ** 3;

/**
 * A client repeats a key only for a batch whose answer it did not get, soon
 * after: remembering the last 10 000 is ample for many uploads at once, and
 * takes a few MiB at most.
 */
export const DEFAULT_RECEIVE_MAX_KEYS = 10_000;

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
  /** The RFC 9530 digests the request carried that matched (`Content-Digest sha-256`, …); absent when none. */
  verified?: string[];
}

/** A digest field the body did not match: the request is answered 400 and none of its bytes is kept. */
class DigestRefused extends Error {
  readonly problem: DigestProblem;
  readonly bytes: number;

  constructor(problem: DigestProblem, bytes: number) {
    super(`${problem.field} ${problem.algorithm ?? 'invalid'}`);
    this.problem = problem;
    this.bytes = bytes;
  }
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
  maxBytes = DEFAULT_RECEIVE_MAX_BYTES,
  maxKeys = DEFAULT_RECEIVE_MAX_KEYS,
}: ReceiveServerOptions = {}): Promise<ReceiveServer> {
  const root = resolve(dir);
  await mkdir(root, { recursive: true });
  const tus = await loadTusHandler(join(root, 'tus'), maxBytes, log);
  const batches = new RecentMap<string, Promise<Stored>>(maxKeys);
  const streamFiles = new UniqueFiles(root, 'stream-', '.bin');

  const server = createServer((request, response) => {
    const path = new URL(request.url ?? '/', 'http://localhost').pathname;
    let handled: Promise<void>;
    // GET is not tus (@tus/server's download of a stored upload dies when the client goes first): the files are in --dir.
    if (request.method === 'GET')
      handled = answerText(response, 405, 'bhw receive takes uploads; what it stored is in its --dir\n', { allow: 'POST, PUT, PATCH' });
    else if (path === TUS_PATH || path.startsWith(`${TUS_PATH}/`)) handled = serveTus(tus, request, response);
    else if (!['POST', 'PUT', 'PATCH'].includes(request.method ?? ''))
      handled = answerText(response, 405, 'bhw receive takes POST, PUT or PATCH uploads\n', { allow: 'POST, PUT, PATCH' });
    else if (request.headers['batch-sequence'] !== undefined) handled = receiveBatch(request, response, root, maxBytes, batches, log);
    else handled = receiveStream(request, response, root, streamFiles, maxBytes, log);
    handled.catch((error: Error) => log(`${request.method} ${shownTarget(request)}: ${printable(error.message)}`));
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

/**
 * `stream-1.bin`, `stream-2.bin`, …: each name created with O_EXCL, so a file
 * an earlier run (or another server on the same directory) left is never
 * overwritten; the next free number is taken instead.
 */
class UniqueFiles {
  readonly #root: string;
  readonly #prefix: string;
  readonly #suffix: string;
  #last = 0;

  constructor(root: string, prefix: string, suffix: string) {
    this.#root = root;
    this.#prefix = prefix;
    this.#suffix = suffix;
  }

  /** Gives `temporary` the next free name (reserved with O_EXCL, then replaced by the rename); returns that name. */
  async keep(temporary: string): Promise<string> {
    const { file, handle } = await this.#create();
    await handle.close();
    await rename(temporary, join(this.#root, file));
    return file;
  }

  async #create(): Promise<{ file: string; handle: FileHandle }> {
    for (;;) {
      const file = `${this.#prefix}${++this.#last}${this.#suffix}`;
      try {
        return { file, handle: await open(join(this.#root, file), 'wx') };
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      }
    }
  }
}

/**
 * One stream-mode upload: the whole body is one file, refused (413, nothing
 * kept) when larger than `maxBytes`, or (400, nothing kept) when a digest
 * field does not match. It is written under a hidden temporary name and
 * renamed once checked, so a bad body is never seen under an upload's name.
 */
async function receiveStream(
  request: IncomingMessage,
  response: ServerResponse,
  root: string,
  files: UniqueFiles,
  maxBytes: number,
  log: (line: string) => void,
): Promise<void> {
  const what = `stream ${request.method} ${shownTarget(request)}`;
  if (declaredLength(request) > maxBytes) return refuseTooLarge(response, maxBytes, what, log);
  const digests = new BodyDigests(request);
  const hasher = new Sha256Transform();
  const temporary = join(root, `.part-${randomUUID()}`);
  const handle = await open(temporary, 'wx');
  try {
    await pipeline(bodyOf(request), digests, new ByteLimit(maxBytes), hasher, handle.createWriteStream());
  } catch (error) {
    if (error instanceof TooLargeError) {
      await rm(temporary, { force: true });
      return refuseTooLarge(response, maxBytes, what, log);
    }
    // Cut short: what arrived is kept, as far as it came (a digest cannot be checked without the whole body).
    const file = await files.keep(temporary);
    log(`${what}: failed after ${hasher.bytes} bytes (kept in ${file}): ${printable((error as Error).message)}`);
    if (!response.headersSent && !response.destroyed) await answerText(response, 500, `upload failed: ${(error as Error).message}\n`, CLOSE);
    return;
  }
  const verdict = digests.verdict(request);
  if (verdict.problem) {
    await rm(temporary, { force: true });
    return refuseDigest(response, new DigestRefused(verdict.problem, digests.bytes), what, log);
  }
  const stored: Stored = { bytes: hasher.bytes, sha256: hasher.digest(), file: await files.keep(temporary), ...verifiedField(verdict.verified) };
  log(`${what}: ${stored.bytes} bytes, sha256 ${stored.sha256}${checked(verdict)} -> ${stored.file}`);
  await answerJson(response, 200, stored);
}

/**
 * One batch: written at its `Batch-Offset` into the upload's file, so batches
 * arriving out of order (concurrency > 1, retries) still make the exact
 * concatenation. A repeated `Idempotency-Key` is answered with the first
 * attempt's result and not stored again. A batch that would make the file
 * larger than `maxBytes` is refused with 413 (a huge offset would otherwise
 * make a huge sparse file).
 */
async function receiveBatch(
  request: IncomingMessage,
  response: ServerResponse,
  root: string,
  maxBytes: number,
  seen: RecentMap<string, Promise<Stored>>,
  log: (line: string) => void,
): Promise<void> {
  const sequence = parseDigits(header(request, 'batch-sequence'));
  const offset = parseDigits(header(request, 'batch-offset'));
  if (sequence === undefined || offset === undefined) {
    request.resume();
    return answerText(response, 400, 'a batch needs integer Batch-Sequence and Batch-Offset headers\n');
  }
  const what = `batch ${sequence} at ${offset}`;
  const gzip = request.headers['content-encoding'] === 'gzip';
  // A gzip body's Content-Length says nothing of its decoded size: the ByteLimit stops it while it is stored.
  if (offset + (gzip ? 0 : declaredLength(request)) > maxBytes) return refuseTooLarge(response, maxBytes, what, log);
  const key = header(request, 'idempotency-key');
  const file = `batch-${uploadId(key, sequence, request.url ?? '/')}.bin`;
  const earlier = key === undefined ? undefined : seen.get(key);
  if (earlier) {
    // Wait for the first attempt: if it failed after all, this body is stored instead.
    const stored = await earlier.catch(() => undefined);
    if (stored) {
      request.resume();
      log(`${what}: duplicate Idempotency-Key ${printable(key!)}, dropped`);
      return answerJson(response, 200, { ...stored, sequence, duplicate: true });
    }
  }
  let digestNote = '';
  const storing = storeAt(request, join(root, file), offset, gzip, maxBytes - offset).then(({ bytes, sha256, digests }): Stored => {
    digestNote = checked(digests);
    return { bytes, sha256, file, ...verifiedField(digests.verified) };
  });
  if (key !== undefined) seen.set(key, storing);
  let stored: Stored;
  try {
    stored = await storing;
  } catch (error) {
    if (key !== undefined && seen.get(key) === storing) seen.delete(key); // a later retry must be stored
    if (error instanceof DigestRefused) return refuseDigest(response, error, what, log);
    if (error instanceof TooLargeError) return refuseTooLarge(response, maxBytes, what, log);
    log(`${what}: failed: ${printable((error as Error).message)}`);
    if (!response.headersSent && !response.destroyed) await answerText(response, 500, `batch failed: ${(error as Error).message}\n`, CLOSE);
    return;
  }
  log(`${what}: ${stored.bytes} bytes, sha256 ${stored.sha256}${digestNote} -> ${file}`);
  await answerJson(response, 200, { ...stored, sequence });
}

/**
 * Writes a (possibly gzipped) body at `offset` in `path`, creating the file
 * if needed, without truncating it; more than `limit` decoded bytes fail
 * with `TooLargeError`, a digest field the body does not match with
 * `DigestRefused`. The batch lands whole or not at all: it is decoded into a
 * hidden temporary file and copied into place only once it ended and matched.
 */
async function storeAt(
  request: IncomingMessage,
  path: string,
  offset: number,
  gzip: boolean,
  limit: number,
): Promise<{ bytes: number; sha256: string; digests: DigestVerdict }> {
  const digests = new BodyDigests(request);
  const hasher = new Sha256Transform();
  const temporary = join(dirname(path), `.part-${randomUUID()}`);
  const out = createWriteStream(temporary, { flags: 'wx' });
  try {
    // Batch-Offset counts uncompressed bytes: store what the gzip body decodes to. The digests are of the body as sent.
    if (gzip) await pipeline(bodyOf(request), digests, createGunzip(), new ByteLimit(limit), hasher, out);
    else await pipeline(bodyOf(request), digests, new ByteLimit(limit), hasher, out);
    const verdict = digests.verdict(request);
    if (verdict.problem) throw new DigestRefused(verdict.problem, digests.bytes);
    await (await open(path, 'a')).close();
    await pipeline(createReadStream(temporary), createWriteStream(path, { flags: 'r+', start: offset }));
    return { bytes: hasher.bytes, sha256: hasher.digest(), digests: verdict };
  } finally {
    await rm(temporary, { force: true });
  }
}

/**
 * The request body for a pipeline that must not destroy the request when a
 * later stage fails: destroying it resets the connection, and the client
 * would never read the answer (a 413) that says why. A stream of its own,
 * which the pipeline may destroy: a pipeline reading the request's own
 * iterator waited on Node 22 for a next chunk that an idle client never sent
 * when a stage after the first failed (a 413 after gunzip never came).
 */
function bodyOf(request: IncomingMessage): PassThrough {
  const body = new PassThrough();
  request.pipe(body);
  // pipe() passes neither an error nor a cut on: the body must end in one too.
  request.once('error', (error) => body.destroy(error));
  const cutShort = (): void => {
    if (!request.complete) body.destroy(new Error('the request was cut short'));
  };
  // The client may have gone while the file was being opened: 'close' came before this listener.
  if (request.destroyed) cutShort();
  else request.once('close', cutShort);
  return body;
}

/** Content-Length, or 0 when the size is not declared (chunked). */
function declaredLength(request: IncomingMessage): number {
  return parseDigits(header(request, 'content-length')) ?? 0;
}

/** Answers 400 with problem details naming the digest (the body was read whole: the connection stays). */
function refuseDigest(response: ServerResponse, { problem, bytes }: DigestRefused, what: string, log: (line: string) => void): Promise<void> {
  const digest = problem.algorithm ? `${problem.field} ${problem.algorithm}` : problem.field;
  const verdict = problem.algorithm ? 'does not match' : 'is not a valid digest field';
  log(`${what}: refused with 400, ${digest}${problem.section === 'trailer' ? ' in a trailer' : ''} ${verdict}; nothing stored`);
  return answerDigestProblem(response, problem, bytes);
}

/** `verified` for the answer, when a digest was checked. */
function verifiedField(verified: string[]): { verified?: string[] } {
  return verified.length > 0 ? { verified } : {};
}

/** What the log line says of the digests: those checked, and those that could not be. */
function checked({ verified, unverified }: DigestVerdict): string {
  const parts = [...verified.map((digest) => `${digest} verified`), ...unverified.map((digest) => `${digest} not verified (trailer not announced)`)];
  return parts.length > 0 ? `, ${parts.join(', ')}` : '';
}

/** Answers 413 and closes the connection, so the rest of the body is not read. */
function refuseTooLarge(response: ServerResponse, maxBytes: number, what: string, log: (line: string) => void): Promise<void> {
  log(`${what}: refused with 413, larger than --max-bytes ${maxBytes}`);
  if (response.headersSent || response.destroyed) return Promise.resolve();
  return answerText(response, 413, `bhw receive takes uploads of at most ${maxBytes} bytes (--max-bytes)\n`, CLOSE);
}

/** The request's path and query as the log shows them: secret query values redacted, control characters escaped. */
function shownTarget(request: IncomingMessage): string {
  const url = new URL(request.url ?? '/', 'http://localhost');
  return printable(redactUrl(url).slice(url.origin.length));
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

/** For answers given before the body was read to its end: the connection closes instead of waiting for the rest. */
const CLOSE = { connection: 'close' };

function answerText(response: ServerResponse, status: number, text: string, headers: Record<string, string> = {}): Promise<void> {
  response.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', ...headers });
  return new Promise((resolve) => response.end(text, resolve));
}
