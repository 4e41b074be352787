import { parseArgs, type ParseArgsConfig } from 'node:util';
import type { UploadMode } from '../lib/index.js';
import { parseDigits } from './units.js';

/** Bad usage or input: the CLI prints the message and exits 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** `bhw [options] <file|-> <url>`, after parsing and checking. */
export interface UploadArgs {
  command: 'upload';
  /** A path, or `-` for stdin. */
  source: string;
  url: string;
  mode: UploadMode;
  method?: string;
  headers: Record<string, string>;
  highWaterMark?: number;
  concurrency?: number;
  flushInterval?: number;
  compress?: string;
  contentLength: boolean;
  resume?: string;
  json: boolean;
  quiet: boolean;
  progress: boolean;
  /** The arguments as given, to print an exact `--resume` command. */
  argv: string[];
}

export interface ReceiveArgs {
  command: 'receive';
  port: number;
  dir: string;
}

export type CliArgs = UploadArgs | ReceiveArgs | { command: 'help' } | { command: 'version' };

export const USAGE = `Usage: bhw [options] <file|-> <url>
       bhw receive [--port N] [--dir D]

Uploads a file (or stdin with -) to <url> through buffered-http-writable.
The server's response body goes to stdout; progress and the summary to stderr.

Options:
  --mode stream|batch|tus   delivery protocol (default: stream)
  -X, --method METHOD       POST (default), PUT or PATCH (stream and batch)
  -H, --header 'Name: value'  extra request header (repeatable)
  --high-water-mark SIZE    bytes per buffer, e.g. 64KiB, 1MiB, 1.5MB (default 1MiB)
  --concurrency N           batch: requests in flight at once (default 1)
  --flush-interval MS       batch: send a partial batch after MS milliseconds
  --compress gzip           batch: gzip each batch
  --content-length          file: declare its size (Content-Length / tus Upload-Length)
  --resume UPLOAD_URL       tus: continue this upload from the server's offset
  --json                    print one JSON object on stdout instead of the body
  --quiet                   no progress bar and no summary (errors still print)
  --progress                show the progress bar even when stderr is not a terminal
  -h, --help                show this help
  --version                 print the version

bhw receive: a local receiving server for stream, batch and tus uploads.
  --port N                  port to listen on, 127.0.0.1 only (default 8080; 0: any free port)
  --dir D                   directory to store uploads in (default ./received)

Exit codes: 0 uploaded and acknowledged, 1 upload failed, 2 bad usage or input, 130 interrupted.`;

const UPLOAD_OPTIONS = {
  mode: { type: 'string' },
  method: { type: 'string', short: 'X' },
  header: { type: 'string', short: 'H', multiple: true },
  'high-water-mark': { type: 'string' },
  concurrency: { type: 'string' },
  'flush-interval': { type: 'string' },
  compress: { type: 'string' },
  'content-length': { type: 'boolean' },
  resume: { type: 'string' },
  json: { type: 'boolean' },
  quiet: { type: 'boolean' },
  progress: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean' },
} as const;

const RECEIVE_OPTIONS = {
  port: { type: 'string' },
  dir: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

const MODES: readonly UploadMode[] = ['stream', 'batch', 'tus'];

/** Parses the command line; throws `UsageError` naming the problem. */
export function parseCliArgs(argv: string[]): CliArgs {
  if (argv[0] === 'receive') return parseReceiveArgs(argv.slice(1));
  const { values, positionals } = strictParse(argv, UPLOAD_OPTIONS);
  if (values.help) return { command: 'help' };
  if (values.version) return { command: 'version' };
  if (positionals.length !== 2) {
    throw new UsageError(`expected <file|-> <url>, received ${positionals.length} argument(s); see bhw --help`);
  }
  const [source, url] = positionals as [string, string];
  checkUrl('url', url);
  const mode = (values.mode ?? (values.resume ? 'tus' : 'stream')) as UploadMode;
  if (!MODES.includes(mode)) throw new UsageError(`--mode must be stream, batch or tus, received ${JSON.stringify(values.mode)}`);
  if (values.resume !== undefined) {
    if (mode !== 'tus') throw new UsageError(`--resume applies to --mode tus only, received --mode ${mode}`);
    checkUrl('--resume', values.resume);
  }
  if (values['content-length'] && source === '-') {
    throw new UsageError('--content-length needs a file: the size of stdin is not known in advance');
  }
  const args: UploadArgs = {
    command: 'upload',
    source,
    url,
    mode,
    headers: parseHeaders(values.header ?? []),
    contentLength: values['content-length'] ?? false,
    json: values.json ?? false,
    quiet: values.quiet ?? false,
    progress: values.progress ?? false,
    argv,
  };
  if (values.method !== undefined) args.method = values.method;
  if (values['high-water-mark'] !== undefined) args.highWaterMark = parseSize('--high-water-mark', values['high-water-mark']);
  if (values.concurrency !== undefined) args.concurrency = parseInteger('--concurrency', values.concurrency, 1);
  if (values['flush-interval'] !== undefined) args.flushInterval = parseInteger('--flush-interval', values['flush-interval'], 1);
  if (values.compress !== undefined) args.compress = values.compress;
  if (values.resume !== undefined) args.resume = values.resume;
  return args;
}

function parseReceiveArgs(argv: string[]): CliArgs {
  const { values, positionals } = strictParse(argv, RECEIVE_OPTIONS);
  if (values.help) return { command: 'help' };
  if (positionals.length > 0) throw new UsageError(`bhw receive takes no arguments, received ${JSON.stringify(positionals[0])}`);
  const port = values.port === undefined ? 8080 : parseInteger('--port', values.port, 0);
  if (port > 65535) throw new UsageError(`--port must be at most 65535, received ${port}`);
  return { command: 'receive', port, dir: values.dir ?? 'received' };
}

/** `parseArgs` in strict mode, its errors turned into usage errors. */
function strictParse<T extends NonNullable<ParseArgsConfig['options']>>(argv: string[], options: T) {
  try {
    return parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

const UNITS: Record<string, number> = {
  '': 1, b: 1,
  k: 1000, kb: 1000, kib: 1024,
  m: 1000 ** 2, mb: 1000 ** 2, mib: 1024 ** 2,
  g: 1000 ** 3, gb: 1000 ** 3, gib: 1024 ** 3,
};

/** `65536`, `64KiB`, `1MiB`, `1.5MB` → bytes (SI units are powers of 1000, IEC units of 1024), rounded down. */
export function parseSize(name: string, text: string): number {
  const match = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/i.exec(text.trim());
  const unit = match ? UNITS[match[2]!.toLowerCase()] : undefined;
  if (!match || unit === undefined) {
    throw new UsageError(`${name} must be a size such as 65536, 64KiB, 1MiB or 1.5MB, received ${JSON.stringify(text)}`);
  }
  const bytes = Math.floor(Number(match[1]) * unit);
  if (bytes < 1 || !Number.isSafeInteger(bytes)) throw new UsageError(`${name} must be at least 1 byte, received ${JSON.stringify(text)}`);
  return bytes;
}

function parseInteger(name: string, text: string, min: number): number {
  const value = parseDigits(text);
  if (value === undefined || value < min) {
    throw new UsageError(`${name} must be an integer of at least ${min}, received ${JSON.stringify(text)}`);
  }
  return value;
}

/** `-H 'Name: value'` lines → a header record; a repeated name joins its values with `, ` (RFC 9110 §5.3). */
function parseHeaders(lines: string[]): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    const name = colon > 0 ? line.slice(0, colon).trim() : '';
    if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name)) {
      throw new UsageError(`-H must look like 'Name: value', received ${JSON.stringify(line)}`);
    }
    const value = line.slice(colon + 1).trim();
    const key = Object.keys(headers).find((existing) => existing.toLowerCase() === name.toLowerCase()) ?? name;
    headers[key] = headers[key] === undefined ? value : `${headers[key]}, ${value}`;
  }
  return headers;
}

function checkUrl(name: string, text: string): void {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new UsageError(`${name} is not a valid URL: ${JSON.stringify(text)}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new UsageError(`${name} must be an http: or https: URL, received ${JSON.stringify(text)}`);
  }
}
