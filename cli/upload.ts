import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { basename } from 'node:path';
import { pipeline } from 'node:stream/promises';
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
import { REDACTED, redactUrl } from '../lib/redact.js';
import { UsageError, type UploadArgs } from './args.js';
import { connectionFor } from './connection.js';
import { EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, processIo, type CliIo } from './io.js';
import { Output, outputSecrets } from './output.js';
import { ProgressBar } from './progress-bar.js';
import { RecordSplitter } from './record-splitter.js';
import { failureLine, reasonOf, resumeCommand, spoolLines, summaryLine, type Reached, type UploadSummary } from './report.js';
import { Sha256Transform, ShortInputError } from './sha256-transform.js';
import { withExpectContinue } from './expect-continue.js';
import { directSource, openFile, type DirectSource, type Source } from './upload-source.js';
import { Watchdog } from './watchdog.js';

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
    const knownSize = direct?.fileSize ?? file?.size;
    options.headers = withExpectContinue(args, args.headers, knownSize === undefined ? undefined : knownSize - offset);
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

/** The library names a bad option and its value in a TypeError/RangeError: that is bad usage (exit 2). */
function usageErrorOf(error: unknown): unknown {
  return error instanceof TypeError || error instanceof RangeError ? new UsageError(error.message) : error;
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
