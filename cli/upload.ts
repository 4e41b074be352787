import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { close as closeCallback, fstat as fstatCallback, open as openCallback } from 'node:fs';
import { open, readlink, type FileHandle } from 'node:fs/promises';
import { basename } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
import type { Got } from 'got';
import {
  BufferedHttpWritable,
  fetchTusOffset,
  type BufferedHttpWritableOptions,
  type Compression,
  type ProgressSnapshot,
  type SpoolState,
  type TusOffset,
  type UploadFileResult,
  type UploadMethod,
  type UploadResponse,
  uploadFile,
} from '../lib/index.js';
import { REDACTED, redactSecrets, redactUrl, secretValues } from '../lib/redact.js';
import { UsageError, type UploadArgs } from './args.js';
import { basicAuthorization, connectionFor, proxySettings } from './connection.js';
import { EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, processIo, type CliIo } from './io.js';
import { ProgressBar } from './progress-bar.js';
import { RecordSplitter } from './record-splitter.js';
import { failureLine, reasonOf, resumeCommand, spoolLines, summaryLine, type Reached, type UploadSummary } from './report.js';
import { Sha256Transform, ShortInputError } from './sha256-transform.js';
import { Watchdog } from './watchdog.js';

const fstat = promisify(fstatCallback);
const openFd = promisify(openCallback);
const closeFd = promisify(closeCallback);

interface Source {
  stream: Readable;
  /** Bytes to drop from the start of the stream. */
  skip: number;
  /** Bytes this run will send, when known. */
  size?: number;
}

/** A descriptor `uploadFile` reads straight into the pool's buffers: a regular file, or stdin (a pipe or a redirected file). */
interface DirectSource {
  fd: number;
  /** A regular file's size (stdin redirected from a file has one too); undefined for a pipe. */
  fileSize?: number;
  /** stdin's pipe opened anew: closed once the upload succeeded. */
  reopened?: boolean;
}

/** `bhw [options] <file|-> <url>`: resolves with the exit code. */
export async function runUpload(args: UploadArgs, io: CliIo = processIo): Promise<number> {
  const connection = connectionFor(args, io.env ?? process.env);
  const output = new Output(io, outputSecrets(args, io.env ?? process.env));
  for (const notice of connection.notices) output.stderr(notice);
  const file = args.source === '-' ? undefined : await openFile(args.source);
  const aborter = new AbortController();
  const watchdog = new Watchdog(aborter);
  if (args.maxTime) watchdog.limitTotal(args.maxTime);
  try {
    let resumed: TusOffset | undefined;
    let options: BufferedHttpWritableOptions;
    try {
      if (args.contentLength && file?.size === undefined) throw new UsageError(`--content-length needs a regular file, and ${args.source} is not one`);
      if (args.resume) resumed = await resumeState(args, file?.size, connection.got, aborter.signal, watchdog);
      options = uploadOptions(args, file?.size, aborter.signal, connection.got, resumed);
    } catch (error) {
      await file?.handle.close();
      throw error;
    }
    const offset = resumed?.offset ?? 0;
    const direct = await directSource(args, io, file);
    if (direct) {
      try {
        return await sendDirect(args, io, output, direct, offset, options, aborter, watchdog);
      } finally {
        await file?.handle.close();
      }
    }
    let upload: BufferedHttpWritable;
    try {
      upload = new BufferedHttpWritable(args.url, options);
    } catch (error) {
      await file?.handle.close();
      throw usageErrorOf(error);
    }
    if (args.stallTimeout) upload.on('progress', watchdog.watchStalls(args.stallTimeout, upload));
    // A regular file is read from the offset on; stdin (or a pipe) skips up to it.
    const seekable = file?.size !== undefined;
    const source: Source = {
      stream: file ? file.handle.createReadStream({ start: seekable ? offset : 0 }) : io.stdin,
      skip: seekable ? 0 : offset,
    };
    if (seekable) source.size = file.size! - offset;
    return await send(args, io, output, upload, source, offset, aborter, watchdog);
  } finally {
    watchdog.stop();
  }
}

/**
 * Where `uploadFile` fits: stream and tus mode, from a regular file, or from
 * stdin when it is a regular file (`< file`) or a pipe (`cmd |`), unless
 * bytes must be skipped (`--resume` with stdin). Batch mode keeps the
 * pipeline: its records must stay whole, and `uploadFile` cuts batches at
 * `highWaterMark` bytes. So do a FIFO named on the command line (its handle
 * could not be closed while a read of it waits), a terminal and a socket.
 */
async function directSource(args: UploadArgs, io: CliIo, file: { handle: FileHandle; size?: number } | undefined): Promise<DirectSource | undefined> {
  if (args.mode === 'batch') return undefined;
  if (file) return file.size === undefined ? undefined : { fd: file.handle.fd, fileSize: file.size };
  if (io.stdinFd === undefined || args.resume) return undefined;
  const stats = await fstat(io.stdinFd);
  if (stats.isFile()) return { fd: io.stdinFd, fileSize: stats.size };
  const fd = stats.isFIFO() ? await reopenPipe(io.stdinFd) : undefined;
  return fd === undefined ? undefined : { fd, reopened: true };
}

/**
 * A blocking descriptor of its own for the anonymous pipe on `fd`, or
 * undefined where there is none to be had (not Linux, a named FIFO).
 *
 * got imports `node:process`, whose ESM facade reads `process.stdin`: Node
 * then opens stdin as a socket and sets O_NONBLOCK on the pipe, so a read of
 * descriptor 0 fails with EAGAIN whenever the writer is slower than we are.
 * Opening `/proc/self/fd/0` gives a new open file description of the same
 * pipe, blocking. An anonymous pipe never waits for a writer when opened; a
 * named FIFO would wait if its writer has already gone, so it is piped.
 */
async function reopenPipe(fd: number): Promise<number | undefined> {
  const path = `/proc/self/fd/${fd}`;
  try {
    if (!/^pipe:\[\d+\]$/.test(await readlink(path))) return undefined;
    return await openFd(path, 'r');
  } catch {
    return undefined;
  }
}

/** The library names a bad option and its value in a TypeError/RangeError: that is bad usage (exit 2). */
function usageErrorOf(error: unknown): unknown {
  return error instanceof TypeError || error instanceof RangeError ? new UsageError(error.message) : error;
}

/**
 * What `bhw` prints, with every credential it was given (`-u`, credential
 * `-H` values, URL and proxy passwords, secret query values) shown as `[REDACTED]`, in the
 * server's answer too: a server that echoes them must not put them in logs.
 */
class Output {
  readonly #io: CliIo;
  readonly #secrets: string[];

  constructor(io: CliIo, secrets: string[]) {
    this.#io = io;
    this.#secrets = secrets;
  }

  redact(text: string): string {
    return redactSecrets(text, this.#secrets);
  }

  stdout(text: string): void {
    this.#io.stdout.write(this.redact(text));
  }

  stderr(line: string): void {
    this.#io.stderr.write(`${this.redact(line)}\n`);
  }
}

/** The credentials this run was given, as the library's redaction rules find them. */
function outputSecrets(args: UploadArgs, env: NodeJS.ProcessEnv): string[] {
  const headers: Array<Record<string, string>> = [args.headers];
  const urls: URL[] = [new URL(args.url)];
  if (args.resume) urls.push(new URL(args.resume));
  if (args.user) {
    headers.push({ authorization: basicAuthorization(args.user) });
    const user = new URL('http://localhost');
    user.password = args.user.password;
    urls.push(user);
  }
  const proxies = proxySettings(args, env);
  for (const proxy of [proxies.http, proxies.https]) if (proxy) urls.push(proxy);
  return secretValues(headers, urls, args.secretHeaders);
}

async function send(
  args: UploadArgs,
  io: CliIo,
  output: Output,
  upload: BufferedHttpWritable,
  source: Source,
  offset: number,
  aborter: AbortController,
  watchdog: Watchdog,
): Promise<number> {
  const hasher = new Sha256Transform({ skip: source.skip, hash: args.sha256 });
  const bar = progressBar(args, io, source.size);
  let spool: SpoolState | undefined;
  // The library puts what stayed in the spool on the error it ends with.
  upload.on('error', (error: Error & { spool?: SpoolState }) => (spool ??= error.spool));
  if (bar) upload.on('progress', (progress) => bar.update(progress));
  const interrupt = (): void => aborter.abort();
  process.once('SIGINT', interrupt);
  const started = performance.now();
  try {
    if (args.mode === 'batch') {
      await pipeline(source.stream, hasher, new RecordSplitter(upload.writableHighWaterMark), upload, { signal: aborter.signal });
    } else {
      await pipeline(source.stream, hasher, upload, { signal: aborter.signal });
    }
  } catch (error) {
    bar?.stop();
    // The spool's state is known once the upload has let go of it.
    if (args.spool && !upload.closed) await once(upload, 'close');
    const reached = { ...upload.progress, ...(upload.uploadUrl ? { uploadUrl: upload.uploadUrl } : {}) };
    return failed(args, output, reached, watchdog.timedOut ?? (error as Error), aborter.signal.aborted && !watchdog.timedOut, source.size, spool);
  } finally {
    process.removeListener('SIGINT', interrupt);
  }
  bar?.stop();
  const summary = summaryOf(args, hasher.bytes, args.sha256 ? hasher.digest() : undefined, upload.response, performance.now() - started, offset);
  if (upload.uploadUrl) summary.uploadUrl = upload.uploadUrl;
  if (args.spool) summary.bytesFromSpool = upload.progress.bytesFromSpool ?? 0;
  return succeeded(args, output, summary);
}

/**
 * Stream and tus from a file or stdin's descriptor: `uploadFile` reads into
 * the pool's buffers (no allocation and no copy per read) and `onRead` hashes
 * each buffer before it is sent.
 */
async function sendDirect(
  args: UploadArgs,
  io: CliIo,
  output: Output,
  source: DirectSource,
  offset: number,
  options: BufferedHttpWritableOptions,
  aborter: AbortController,
  watchdog: Watchdog,
): Promise<number> {
  const hash = args.sha256 ? createHash('sha256') : undefined;
  const size = source.fileSize === undefined ? undefined : source.fileSize - offset;
  let bytesRead = 0;
  let reached: Reached = { bytesSent: 0, bytesAcknowledged: 0 };
  const bar = progressBar(args, io, size);
  // Set as soon as uploadFile has returned the upload to watch, before its first progress call.
  let stalled: ((progress: ProgressSnapshot) => void) | undefined;
  const interrupt = (): void => aborter.abort();
  process.once('SIGINT', interrupt);
  const started = performance.now();
  let result: UploadFileResult;
  try {
    const upload = uploadFile(source.fd, args.url, {
      ...options,
      declareSize: args.contentLength,
      onRead: (bytes) => {
        bytesRead += bytes.length;
        hash?.update(bytes);
      },
      onProgress: (progress) => {
        reached = progress;
        bar?.update(progress);
        stalled?.(progress);
      },
    });
    if (args.stallTimeout) stalled = watchdog.watchStalls(args.stallTimeout, upload);
    result = await upload;
  } catch (error) {
    bar?.stop();
    const usage = usageErrorOf(error);
    if (usage instanceof UsageError) throw usage;
    return failed(args, output, reached, watchdog.timedOut ?? (error as Error), aborter.signal.aborted && !watchdog.timedOut, size);
  } finally {
    process.removeListener('SIGINT', interrupt);
  }
  bar?.stop();
  // After a failure a read of the pipe may still be waiting: the process exits without closing it.
  if (source.reopened) await closeFd(source.fd);
  const summary = summaryOf(args, bytesRead, hash?.digest('hex'), result.response, performance.now() - started, offset);
  if (result.uploadUrl) summary.uploadUrl = result.uploadUrl;
  return succeeded(args, output, summary);
}

function progressBar(args: UploadArgs, io: CliIo, size: number | undefined): ProgressBar | undefined {
  return !args.quiet && (args.progress || io.stderr.isTTY) ? new ProgressBar(size, io.stderr) : undefined;
}

function summaryOf(
  args: UploadArgs,
  bytes: number,
  sha256: string | undefined,
  response: UploadResponse | undefined,
  ms: number,
  offset: number,
): UploadSummary {
  const summary: UploadSummary = {
    bytes,
    statusCode: response?.statusCode ?? null,
    seconds: Math.round(ms) / 1000,
    mode: args.mode,
    body: response?.body ?? '',
  };
  if (sha256 !== undefined) summary.sha256 = sha256;
  if (args.resume) summary.offset = offset;
  return summary;
}

function succeeded(args: UploadArgs, output: Output, summary: UploadSummary): number {
  // The body comes last in --json, as before the optional fields.
  const { body, ...rest } = summary;
  output.stdout(args.json ? `${JSON.stringify({ ...rest, body })}\n` : body);
  if (!args.quiet) output.stderr(summaryLine(summary));
  return EXIT_OK;
}

function failed(args: UploadArgs, output: Output, reached: Reached, error: Error, interrupted: boolean, size?: number, spool?: SpoolState): number {
  if (error instanceof ShortInputError) {
    output.stderr(`bhw: ${error.message}: the input must carry the same bytes as in the first run`);
    return EXIT_USAGE;
  }
  if (interrupted) {
    output.stderr(`bhw: interrupted (sent ${reached.bytesSent} bytes, ${reached.bytesAcknowledged} acknowledged)`);
  } else {
    output.stderr(failureLine(error, reached, size));
  }
  if (spool) for (const line of spoolLines(spool)) output.stderr(line);
  const uploadUrl = (error as { uploadUrl?: string }).uploadUrl ?? reached.uploadUrl;
  if (args.mode === 'tus' && uploadUrl) {
    const { command, redacted } = resumeCommand(args.argv, uploadUrl);
    output.stderr(`bhw: to continue: ${command}`);
    if (redacted) output.stderr(`bhw: (fill in the values shown as ${REDACTED})`);
  }
  return interrupted ? EXIT_INTERRUPTED : EXIT_FAILED;
}

function uploadOptions(args: UploadArgs, fileSize: number | undefined, signal: AbortSignal, got: Got, resumed?: TusOffset): BufferedHttpWritableOptions {
  const options: BufferedHttpWritableOptions = { mode: args.mode, headers: args.headers, signal, got };
  if (args.secretHeaders) options.secretHeaders = args.secretHeaders;
  if (args.method !== undefined) options.method = args.method as UploadMethod;
  if (args.highWaterMark !== undefined) options.highWaterMark = args.highWaterMark;
  if (args.concurrency !== undefined) options.concurrency = args.concurrency;
  if (args.maxConcurrency !== undefined) options.maxConcurrency = args.maxConcurrency;
  if (args.flushInterval !== undefined) options.flushInterval = args.flushInterval;
  if (args.compress !== undefined) options.compress = args.compress as Compression;
  if (args.retry !== undefined) options.retry = { limit: args.retry };
  if (args.spool) options.spool = args.spool;
  // tus: contentLength is the whole upload's length, also when resuming.
  if (args.contentLength) options.contentLength = fileSize!;
  // The HEAD asked for --resume is the only one: the transport starts from its answer.
  if (args.resume) {
    options.uploadUrl = args.resume;
    if (resumed) options.resumeFrom = resumed;
  } else if (args.mode === 'tus' && args.source !== '-') options.metadata = { filename: basename(args.source) };
  return options;
}

/** Where the upload to resume stands on the server; a failure to ask it is a failed upload (exit 1). */
async function resumeState(args: UploadArgs, fileSize: number | undefined, got: Got, signal: AbortSignal, watchdog: Watchdog): Promise<TusOffset> {
  let state;
  try {
    // --retry applies to this HEAD as to the upload; --max-time and Ctrl-C stop it, also while it waits to retry.
    const retry = args.retry === undefined ? {} : { retry: { limit: args.retry } };
    state = await fetchTusOffset(args.resume!, { headers: args.headers, got, signal, ...retry });
  } catch (error) {
    throw new ResumeError(`bhw: cannot resume ${redactUrl(args.resume!)}: ${reasonOf(watchdog.timedOut ?? (error as Error))}`);
  }
  if (fileSize !== undefined && fileSize < state.offset) {
    throw new UsageError(`${args.source} has ${fileSize} bytes, fewer than the ${state.offset} the server already holds`);
  }
  if (fileSize !== undefined && state.length !== undefined && state.length !== fileSize) {
    throw new UsageError(`${args.source} has ${fileSize} bytes, but the upload being resumed is ${state.length} bytes long`);
  }
  return state;
}

/** Asking the server where a resumed upload stands failed. */
export class ResumeError extends Error {
  override name = 'ResumeError';
}

/** Opens the file now, so a missing or unreadable one is a usage error (exit 2), not a failed upload. */
async function openFile(path: string): Promise<{ handle: FileHandle; size?: number }> {
  let handle: FileHandle;
  try {
    handle = await open(path, 'r');
  } catch (error) {
    const { code } = error as NodeJS.ErrnoException;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : (error as Error).message;
    throw new UsageError(`cannot read ${path}: ${why}`);
  }
  const stats = await handle.stat();
  if (stats.isDirectory()) {
    await handle.close();
    throw new UsageError(`cannot read ${path}: it is a directory`);
  }
  // A FIFO or device has no size known in advance: it is read like stdin.
  return stats.isFile() ? { handle, size: stats.size } : { handle };
}
