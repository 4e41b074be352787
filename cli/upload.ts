import { constants } from 'node:fs';
import { access } from 'node:fs/promises';
import { basename, dirname, resolve } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Got } from 'got';
import type { Digests } from './hasher.js';
import {
  BufferedHttpWritable,
  fetchTusOffset,
  readUploadState,
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
import { redactUrl } from '../lib/redact.js';
import { UsageError, type UploadArgs } from './args.js';
import { connectionFor } from './connection.js';
import { processIo, ResumeError, type CliIo } from './io.js';
import { failed, succeeded, type Failure } from './outcome.js';
import { Output, outputSecrets } from './output.js';
import type { ProgressBar } from './progress-bar.js';
import { RecordSplitter } from './record-splitter.js';
import { reasonOf, type Reached, type UploadSummary } from './report.js';
import { RetryReport, retryText } from './retry-report.js';
import { digestFields, hasherFor } from './sent-digest.js';
import { Sha256Transform } from './sha256-transform.js';
import { spoolInputOf, spoolOpened } from './spool-input.js';
import { withExpectContinue } from './expect-continue.js';
import { directSource, openFile, type DirectSource, type Source } from './upload-source.js';
import { showExchanges } from './verbose.js';
import { s3SettingsFrom } from './s3.js';
import { Watchdog } from './watchdog.js';

/** `bhw [options] <file|-> <url>`: resolves with the exit code. */
export async function runUpload(args: UploadArgs, io: CliIo = processIo): Promise<number> {
  const connection = connectionFor(args, io.env ?? process.env);
  const output = new Output(io, outputSecrets(args, io.env ?? process.env), args.showErrors);
  for (const notice of connection.notices) output.error(notice);
  if (args.outputFile !== undefined) await checkWritable(args.outputFile);
  // Ctrl-C ends the run through the same abort in every mode and at every step: exit 130, with what it reached.
  const aborter = new AbortController();
  const interrupt = (): void => aborter.abort();
  process.once('SIGINT', interrupt);
  const stopVerbose = args.verbose ? showExchanges(output, args.secretHeaders) : undefined;
  try {
    return await upload(args, io, output, connection.got, aborter);
  } finally {
    stopVerbose?.();
    process.removeListener('SIGINT', interrupt);
  }
}

/** `-o FILE` is checked before a byte is sent: a missing directory is a mistake to say at once, not after the upload. */
async function checkWritable(path: string): Promise<void> {
  try {
    await access(dirname(resolve(path)), constants.W_OK);
  } catch (error) {
    throw new UsageError(`-o: cannot write ${path}: ${(error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such directory' : 'permission denied'}`);
  }
}

async function upload(args: UploadArgs, io: CliIo, output: Output, got: Got, aborter: AbortController): Promise<number> {
  const file = args.drain || args.source === '-' ? undefined : await openFile(args.source);
  const watchdog = new Watchdog(aborter);
  if (args.maxTime) watchdog.limitTotal(args.maxTime);
  try {
    let resumed: TusOffset | undefined;
    let options: BufferedHttpWritableOptions;
    try {
      if (args.contentLength && file?.size === undefined) throw new UsageError(`--content-length needs a regular file, and ${args.source} is not one`);
      if (args.resume && args.mode === 'tus') resumed = await resumeState(args, file?.size, got, aborter.signal, watchdog);
      // s3 and azure-blob: the state file says how many bytes the stored parts hold; the upload goes on after them.
      if (args.resume && (args.mode === 's3' || args.mode === 'azure-blob')) resumed = await storedParts(args, file?.size);
      options = uploadOptions(args, file?.size, aborter.signal, got, resumed);
      // s3: credentials from the environment; --resume is the state file.
      if (args.mode === 's3') Object.assign(options, { s3: s3SettingsFrom(io.env ?? process.env), ...(args.resume ? { stateFile: args.resume } : {}) });
      if (options.spool) options.spool.input = await spoolInputOf(args, file);
    } catch (error) {
      await file?.handle.close();
      // Ctrl-C while asking where the upload stands: the upload is as it was, and the same command continues it.
      if (aborter.signal.aborted && !watchdog.timedOut) {
        return failed(args, output, {
          error: error as Error,
          interrupted: true,
          reached: { bytesSent: 0, bytesAcknowledged: 0, ...(args.resume && args.mode === 'tus' ? { uploadUrl: args.resume } : {}) },
        });
      }
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
    // Listened to at once: the spool opens before any write.
    const opening = args.spool ? spoolOpened(upload, args) : undefined;
    if (args.stallTimeout) upload.on('progress', watchdog.watchStalls(args.stallTimeout, upload));
    let inputOffset = offset;
    if (opening) {
      let opened;
      try {
        opened = await opening;
      } catch (error) {
        await file?.handle.close();
        throw error;
      }
      if ('error' in opened) {
        await file?.handle.close();
        return failed(args, output, { error: opened.error, interrupted: false, reached: { bytesSent: 0, bytesAcknowledged: 0 } });
      }
      // A file the spool took part of goes on after it; stdin brings new records.
      if (file?.size !== undefined && opened.inputBytes > 0) {
        inputOffset = Math.min(opened.inputBytes, file.size);
        if (!args.quiet) output.stderr(`bhw: the spool ${opened.dir} took the first ${inputOffset} bytes of ${args.source}: going on from there`);
      }
    }
    // A regular file is read from the offset on; stdin (or a pipe) skips up to it.
    const seekable = file?.size !== undefined;
    const source: Source = {
      stream: args.drain ? Readable.from([]) : file ? file.handle.createReadStream({ start: seekable ? inputOffset : 0 }) : io.stdin,
      skip: seekable ? 0 : offset,
    };
    if (seekable) source.size = file.size! - inputOffset;
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
  const digests = hasherFor(args);
  const hasher = new Sha256Transform({ skip: source.skip, hash: false, hasher: digests });
  const bar = await progressBar(args, io, source.size);
  const retries = retryReport(args, output, bar);
  let spool: SpoolState | undefined;
  // The library puts what stayed in the spool on the error it ends with.
  upload.on('error', (error: Error & { spool?: SpoolState }) => (spool ??= error.spool));
  if (bar) upload.on('progress', (progress) => bar.update(progress));
  const started = performance.now();
  try {
    if (args.mode === 'batch') {
      await pipeline(source.stream, hasher, new RecordSplitter(upload.writableHighWaterMark), upload, { signal: aborter.signal });
    } else {
      await pipeline(source.stream, hasher, upload, { signal: aborter.signal });
    }
  } catch (error) {
    bar?.stop();
    digests?.close();
    // The spool's state is known once the upload has let go of it ('close' follows its 'error', which is not this wait's concern).
    if (args.spool && !upload.closed) await new Promise((resolve) => upload.once('close', resolve));
    const reached = { ...upload.progress, ...(upload.uploadUrl ? { uploadUrl: upload.uploadUrl } : {}) };
    return failed(args, output, failureOf(error, reached, aborter, watchdog, retries, source.size, spool));
  } finally {
    retries.stop();
  }
  bar?.stop();
  const summary = summaryOf(args, hasher.bytes, await digests?.digest(), upload.response, performance.now() - started, offset);
  if (upload.uploadUrl) summary.uploadUrl = upload.uploadUrl;
  if (args.spool) summary.bytesFromSpool = upload.progress.bytesFromSpool ?? 0;
  return await succeeded(args, output, summary);
}

/**
 * Stream and tus from a file or stdin's descriptor: `uploadFile` reads into
 * the pool's buffers (no allocation and no copy per read) and, with
 * `--sha256` or `--digest`, `onRead` hands each buffer to the hasher before it is sent.
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
  const hash = hasherFor(args);
  const size = source.fileSize === undefined ? undefined : source.fileSize - offset;
  let bytesRead = 0;
  let reached: Reached = { bytesSent: 0, bytesAcknowledged: 0 };
  const bar = await progressBar(args, io, size);
  const retries = retryReport(args, output, bar);
  // Set as soon as uploadFile has returned the upload to watch, before its first progress call.
  let stalled: ((progress: ProgressSnapshot) => void) | undefined;
  const started = performance.now();
  let result: UploadFileResult;
  try {
    const upload = uploadFile(source.fd, args.url, {
      ...options,
      declareSize: args.contentLength,
      onRead: (bytes) => {
        bytesRead += bytes.length;
        return hash?.update(bytes);
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
    retries.stop();
    hash?.close();
    const usage = usageErrorOf(error);
    if (usage instanceof UsageError) throw usage;
    return failed(args, output, failureOf(error, reached, aborter, watchdog, retries, size));
  }
  bar?.stop();
  retries.stop();
  const summary = summaryOf(args, bytesRead, await hash?.digest(), result.response, performance.now() - started, offset);
  if (result.uploadUrl) summary.uploadUrl = result.uploadUrl;
  return await succeeded(args, output, summary);
}

/** What a failed run reached: the CLI's own timeout is the reason when it fired; Ctrl-C is an interruption. */
function failureOf(
  error: unknown,
  reached: Reached,
  aborter: AbortController,
  watchdog: Watchdog,
  retries?: RetryReport,
  size?: number,
  spool?: SpoolState,
): Failure {
  const reason = watchdog.timedOut ?? (error as Error);
  const attempts = retries?.attemptsOf((reason as { sequence?: number }).sequence);
  return { error: reason, interrupted: aborter.signal.aborted && !watchdog.timedOut, reached, size, spool, attempts };
}

/** Retries on the bar, or as a line each when there is no bar (and no --quiet), as curl warns of them. */
function retryReport(args: UploadArgs, output: Output, bar: ProgressBar | undefined): RetryReport {
  return new RetryReport(args.retry, (notice) => {
    if (bar) bar.retrying(notice);
    else if (!args.quiet) output.stderr(`bhw: ${notice.cause}; ${retryText(notice)}`);
  });
}

/** cli-progress is loaded only when a bar is shown: most runs in scripts have none. */
async function progressBar(args: UploadArgs, io: CliIo, size: number | undefined): Promise<ProgressBar | undefined> {
  if (args.quiet || !(args.progress || io.stderr.isTTY)) return undefined;
  const { ProgressBar } = await import('./progress-bar.js');
  return new ProgressBar(size, io.stderr);
}

function summaryOf(
  args: UploadArgs,
  bytes: number,
  digests: Digests | undefined,
  response: UploadResponse | undefined,
  ms: number,
  offset: number,
): UploadSummary {
  const summary: UploadSummary = {
    bytes,
    ...digestFields(args, digests),
    statusCode: response?.statusCode ?? null,
    seconds: Math.round(ms) / 1000,
    mode: args.mode,
    body: response?.body ?? '',
  };
  if (args.resume) summary.offset = offset;
  return summary;
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
  if (args.digest) options.digest = args.digest;
  // tus: contentLength is the whole upload's length, also when resuming.
  if (args.contentLength) options.contentLength = fileSize!;
  if (args.mode === 'azure-blob' && args.resume !== undefined) options.stateFile = args.resume;
  // The HEAD asked for --resume is the only one: the transport starts from its answer.
  if (args.resume && args.mode === 'tus') {
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

/** azure-blob: where the upload recorded in the `--resume` state file stands (offset 0 when there is none yet). */
async function storedParts(args: UploadArgs, fileSize: number | undefined): Promise<TusOffset> {
  const offset = (await readUploadState(args.resume!))?.bytesStored ?? 0;
  if (fileSize !== undefined && fileSize < offset) {
    throw new UsageError(`${args.source} has ${fileSize} bytes, fewer than the ${offset} the parts recorded in ${args.resume} hold`);
  }
  return { offset };
}
