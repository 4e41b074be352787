import { open, type FileHandle } from 'node:fs/promises';
import { basename } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Got } from 'got';
import {
  BufferedHttpWritable,
  fetchTusOffset,
  redactSecrets,
  redactUrl,
  secretValues,
  type BufferedHttpWritableOptions,
  type Compression,
  type UploadMethod,
} from '../lib/index.js';
import { UsageError, type UploadArgs } from './args.js';
import { basicAuthorization, connectionFor, proxySettings } from './connection.js';
import { EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, processIo, type CliIo } from './io.js';
import { ProgressBar } from './progress-bar.js';
import { RecordSplitter } from './record-splitter.js';
import { failureLine, reasonOf, resumeCommand, summaryLine, type UploadSummary } from './report.js';
import { Sha256Transform, ShortInputError } from './sha256-transform.js';
import { Watchdog } from './watchdog.js';

interface Source {
  stream: Readable;
  /** Bytes to drop from the start of the stream. */
  skip: number;
  /** Bytes this run will send, when known. */
  size?: number;
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
    let upload: BufferedHttpWritable;
    let offset = 0;
    try {
      if (args.contentLength && file?.size === undefined) throw new UsageError(`--content-length needs a regular file, and ${args.source} is not one`);
      if (args.resume) offset = await resumeOffset(args, file?.size, connection.got.extend({ signal: aborter.signal }), watchdog);
      upload = new BufferedHttpWritable(args.url, uploadOptions(args, file?.size, aborter.signal, connection.got));
    } catch (error) {
      await file?.handle.close();
      // The library names the bad option and value in its TypeError/RangeError.
      if (error instanceof TypeError || error instanceof RangeError) throw new UsageError(error.message);
      throw error;
    }
    if (args.stallTimeout) watchdog.watchStalls(upload, args.mode, args.stallTimeout);
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
 * What `bhw` prints, with every credential it was given (`-u`, credential
 * `-H` values, URL and proxy passwords) shown as `<redacted>`, in the
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
  return secretValues(headers, urls);
}

async function send(args: UploadArgs, io: CliIo, output: Output, upload: BufferedHttpWritable, source: Source, offset: number, aborter: AbortController, watchdog: Watchdog): Promise<number> {
  const hasher = new Sha256Transform({ skip: source.skip });
  const bar = !args.quiet && (args.progress || io.stderr.isTTY) ? new ProgressBar(source.size, io.stderr) : undefined;
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
    return failed(args, output, upload, watchdog.timedOut ?? (error as Error), aborter.signal.aborted && !watchdog.timedOut, source.size);
  } finally {
    process.removeListener('SIGINT', interrupt);
  }
  bar?.stop();
  const summary: UploadSummary = {
    bytes: hasher.bytes,
    sha256: hasher.digest(),
    statusCode: upload.response?.statusCode ?? null,
    seconds: Math.round(performance.now() - started) / 1000,
    mode: args.mode,
    body: upload.response?.body ?? '',
  };
  if (upload.uploadUrl) summary.uploadUrl = upload.uploadUrl;
  if (args.resume) summary.offset = offset;
  output.stdout(args.json ? `${JSON.stringify(summary)}\n` : summary.body);
  if (!args.quiet) output.stderr(summaryLine(summary));
  return EXIT_OK;
}

function failed(args: UploadArgs, output: Output, upload: BufferedHttpWritable, error: Error, interrupted: boolean, size?: number): number {
  if (error instanceof ShortInputError) {
    output.stderr(`bhw: ${error.message}: the input must carry the same bytes as in the first run`);
    return EXIT_USAGE;
  }
  const reached = upload.progress;
  if (interrupted) {
    output.stderr(`bhw: interrupted (sent ${reached.bytesSent} bytes, ${reached.bytesAcknowledged} acknowledged)`);
  } else {
    output.stderr(failureLine(error, reached, size));
  }
  const uploadUrl = (error as { uploadUrl?: string }).uploadUrl ?? upload.uploadUrl;
  if (args.mode === 'tus' && uploadUrl) {
    const { command, redacted } = resumeCommand(args.argv, uploadUrl);
    output.stderr(`bhw: to continue: ${command}`);
    if (redacted) output.stderr('bhw: (fill in the values shown as <redacted>)');
  }
  return interrupted ? EXIT_INTERRUPTED : EXIT_FAILED;
}

function uploadOptions(args: UploadArgs, fileSize: number | undefined, signal: AbortSignal, got: Got): BufferedHttpWritableOptions {
  const options: BufferedHttpWritableOptions = { mode: args.mode, headers: args.headers, signal, got };
  if (args.method !== undefined) options.method = args.method as UploadMethod;
  if (args.highWaterMark !== undefined) options.highWaterMark = args.highWaterMark;
  if (args.concurrency !== undefined) options.concurrency = args.concurrency;
  if (args.flushInterval !== undefined) options.flushInterval = args.flushInterval;
  if (args.compress !== undefined) options.compress = args.compress as Compression;
  if (args.retry !== undefined) options.retry = { limit: args.retry };
  // tus: contentLength is the whole upload's length, also when resuming.
  if (args.contentLength) options.contentLength = fileSize!;
  if (args.resume) options.uploadUrl = args.resume;
  else if (args.mode === 'tus' && args.source !== '-') options.metadata = { filename: basename(args.source) };
  return options;
}

/** The server's offset of the upload to resume; a failure to ask it is a failed upload (exit 1). */
async function resumeOffset(args: UploadArgs, fileSize: number | undefined, got: Got, watchdog: Watchdog): Promise<number> {
  let state;
  try {
    state = await fetchTusOffset(args.resume!, { headers: args.headers, got });
  } catch (error) {
    throw new ResumeError(`bhw: cannot resume ${redactUrl(args.resume!)}: ${reasonOf(watchdog.timedOut ?? (error as Error))}`);
  }
  if (fileSize !== undefined && fileSize < state.offset) {
    throw new UsageError(`${args.source} has ${fileSize} bytes, fewer than the ${state.offset} the server already holds`);
  }
  if (fileSize !== undefined && state.length !== undefined && state.length !== fileSize) {
    throw new UsageError(`${args.source} has ${fileSize} bytes, but the upload being resumed is ${state.length} bytes long`);
  }
  return state.offset;
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
