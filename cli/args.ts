import type { DigestAlgorithm, UploadMode } from '../lib/index.js';
import { parseFlags } from './flag-parser.js';
import { parseDigest, parseHeaderName, parseHeaders, parseInteger, parseSeconds, parseSize, parseUrl, parseUser } from './flag-values.js';
import { UsageError } from './usage-error.js';

export { checkUrl, parseSize } from './flag-values.js';
export { UsageError } from './usage-error.js';

/** `bhw [options] <file|-> <url>`, after parsing and checking. */
export interface UploadArgs {
  command: 'upload';
  /** A path, or `-` for stdin. */
  source: string;
  url: string;
  mode: UploadMode;
  method?: string;
  headers: Record<string, string>;
  /** `--secret-header NAME`: the library's `secretHeaders`. */
  secretHeaders?: string[];
  highWaterMark?: number;
  concurrency?: number | 'auto';
  maxConcurrency?: number;
  flushInterval?: number;
  compress?: string;
  contentLength: boolean;
  /** `--no-expect`: no `Expect: 100-continue`, whatever the body's size. */
  noExpect?: boolean;
  resume?: string;
  /** batch: the library's `spool` option (`--spool`, `--spool-max-bytes`, `--spool-fsync`). */
  spool?: { dir: string; maxBytes?: number; fsync: boolean; allowUnsafeDirectory?: boolean };
  /** `--drain`: send what the spool holds and nothing else (`source` is then ''). */
  drain?: true;
  /** `--sha256`: the summary carries the digest of what was sent (off by default: it costs CPU that curl does not spend). */
  sha256: boolean;
  /** `--digest`: the library's `digest` option; the summary carries the stream's `Content-Digest`. */
  digest?: DigestAlgorithm;
  /** batch and tus: the library's `retry.limit`. */
  retry?: number;
  /** `--max-time`, in ms: the whole run, from the first request to the last answer. */
  maxTime?: number;
  /** `--connect-timeout`, in ms: each of DNS lookup, TCP connect and TLS handshake. */
  connectTimeout?: number;
  /** `--stall-timeout`, in ms; 0: never. */
  stallTimeout: number;
  http2: boolean;
  /** `--cacert`: a path to PEM certificates. */
  cacert?: string;
  insecure: boolean;
  /** `--proxy`: a URL, or '' for none (the environment's proxy is not used either). */
  proxy?: string;
  /** `--noproxy`: hosts reached directly, overriding `NO_PROXY`. */
  noProxy?: string;
  /** `-u USER:PASSWORD`. */
  user?: { name: string; password: string };
  json: boolean;
  quiet: boolean;
  progress: boolean;
  /** The arguments as given, to print an exact `--resume` command. */
  argv: string[];

  // curl's output flags.
  /** False with `-s` alone (curl's silent mode): failures are said by the exit code only; `-S` shows them again. */
  showErrors: boolean;
  /** `-f`: an HTTP error status exits 22, and the answer's body is not shown. */
  fail: boolean;
  /** `-o FILE`: the server's answer body goes to FILE instead of stdout. */
  outputFile?: string;
  /** `-v`: request and answer headers on stderr, credentials redacted. */
  verbose: boolean;
}

export interface ReceiveArgs {
  command: 'receive';
  port: number;
  dir: string;
  /** `--max-bytes`: the largest upload taken. */
  maxBytes?: number;
  /** `--max-keys`: batch Idempotency-Keys remembered. */
  maxKeys?: number;
}

export type CliArgs = UploadArgs | ReceiveArgs | { command: 'help' } | { command: 'version' };

export const USAGE = `Usage: bhw [options] <file|-> <url>
       bhw --mode batch --spool DIR --drain [options] <url>
       bhw [options] -T <file|-> <url>
       bhw receive [--port N] [--dir D] [--max-bytes SIZE] [--max-keys N]

Uploads a file (or stdin with -) to <url> through buffered-http-writable.
The server's response body goes to stdout; progress and the summary to stderr.
A URL without a scheme (127.0.0.1:8080/up) is taken as http://.

Connection:
  -m, --max-time S          give up when the whole upload takes longer than S seconds
  --connect-timeout S       give up when a connection (DNS, TCP, TLS) takes longer than S seconds
  --stall-timeout S         give up when no byte is sent or acknowledged for S seconds
                            (default 60; 0: never). S may have decimals: 2.5
  --http2                   use HTTP/2 when an https server offers it

TLS:
  --cacert FILE             trust the CA certificate(s) in FILE (PEM) instead of the system's
  -k, --insecure            do not verify the server's certificate (says so on stderr)

Proxy:
  -x, --proxy URL           send through this HTTP proxy (CONNECT tunnel); "" for none.
                            Default: $https_proxy/$HTTPS_PROXY for https URLs,
                            $http_proxy/$HTTP_PROXY for http URLs
  --noproxy HOSTS           comma-separated hosts (and their subdomains) to reach
                            directly; * for all (default: $no_proxy/$NO_PROXY)

Auth:
  -u, --user USER:PASSWORD  HTTP Basic authentication (the password is never printed)

Upload:
  --mode stream|batch|tus|s3|azure-blob
                            delivery protocol (default: stream); s3: a multipart
                            upload to https://endpoint/bucket/key, credentials and region
                            from AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN,
                            AWS_REGION; azure-blob: <url> is a blob URL with a SAS token
                            (quote it: it holds '&')
  -X, --method METHOD       POST (default), PUT or PATCH (stream and batch)
  -T, --upload-file FILE    the file to upload (- for stdin), as curl takes it
  -H, --header 'Name: value'  extra request header (repeatable)
  --secret-header NAME      the header NAME carries a credential: never printed, not sent
                            to another origin (repeatable; Authorization, Cookie, X-Api-Key,
                            Api-Key and X-Auth-Token always are)
  --content-length          file: declare its size (Content-Length / tus Upload-Length)
  --no-expect               no 'Expect: 100-continue' (sent by default, as curl does, for a
                            file over 1 MiB in stream and tus mode; the body waits up to 1 s)
  --high-water-mark SIZE    bytes per buffer, e.g. 64KiB, 1MiB, 1.5MB (default 1MiB)
  --concurrency N|auto      batch and azure-blob: requests in flight at once (default 1,
                            azure-blob 4); auto finds the server's capacity (adaptive,
                            up to --max-concurrency)
  --max-concurrency N       with --concurrency auto: the most in flight (default 16)
  --flush-interval MS       batch: send a partial batch after MS milliseconds
  --compress gzip           batch: gzip each batch
  --digest sha-256|sha-512  tell the server the digest of what it receives, so a byte changed
                            on the way is caught and the request resent: RFC 9530
                            Content-Digest (stream: in a trailer, printed after the upload;
                            batch: each request its own), tus: Upload-Checksum on each PATCH
                            when the server takes the algorithm
  --retry N                 batch, tus and azure-blob: failed attempts before giving up
                            (default: retry for 120 s)
  --resume UPLOAD_URL       tus: continue this upload from the server's offset
  --resume STATE            s3 and azure-blob: record the upload in the file STATE; run
                            again with the same STATE to continue after the parts stored
  --spool DIR               batch: keep records on disk in DIR until acknowledged; running the
                            same command again after a crash first sends what was left
  --drain                   batch, with --spool: send what the spool holds and nothing else
                            (a spool holding records of another input refuses a new one)
  --spool-max-bytes SIZE    batch: disk the spool may use before reading pauses (default 1GiB)
  --spool-fsync             batch: fdatasync every append (survives a power loss; slower)
  --spool-allow-unsafe-directory
                            batch: use a spool directory owned by another user or writable by
                            others (UNSAFE: they can read the records and redirect the spool's
                            writes); refused by default

Output:
  --json                    print one JSON object on stdout instead of the body (on
                            failure too: { "error": ... })
  -o, --output FILE         write the server's answer body to FILE instead of stdout
  -f, --fail                an HTTP error status exits 22, its body not shown
  -s, --silent              no progress bar, no summary and no error messages
  -S, --show-error          with -s: show error messages
  -v, --verbose             show request and answer headers on stderr (credentials redacted)
  --quiet                   no progress bar and no summary (errors still print)
  --progress                show the progress bar even when stderr is not a terminal
  --sha256                  print the sha256 of what was sent (about 1 s of CPU per GiB,
                            on a second thread when there is a second CPU)
  -h, --help                show this help
  --version                 print the version

bhw receive: a local receiving server for stream, batch and tus uploads.
  --port N                  port to listen on, 127.0.0.1 only (default 8080; 0: any free port)
  --dir D                   directory to store uploads in (default ./received)
  --max-bytes SIZE          largest upload taken (a batch upload: its whole file); larger
                            ones are answered 413 (default 1GiB)
  --max-keys N              batch Idempotency-Keys remembered to drop duplicates, the least
                            recently seen forgotten first (default 10000)

Exit codes: 0 uploaded and acknowledged, 1 upload failed, 2 bad usage or input,
22 an HTTP error status with -f, 130 interrupted.`;

/** The upload command's options, for parseArgs (and for rebuilding a command line). */
export const UPLOAD_OPTIONS = {
  mode: { type: 'string' },
  method: { type: 'string', short: 'X' },
  header: { type: 'string', short: 'H', multiple: true },
  'secret-header': { type: 'string', multiple: true },
  'high-water-mark': { type: 'string' },
  concurrency: { type: 'string' },
  'max-concurrency': { type: 'string' },
  'flush-interval': { type: 'string' },
  compress: { type: 'string' },
  'content-length': { type: 'boolean' },
  'no-expect': { type: 'boolean' },
  retry: { type: 'string' },
  resume: { type: 'string' },
  'max-time': { type: 'string', short: 'm' },
  'connect-timeout': { type: 'string' },
  'stall-timeout': { type: 'string' },
  http2: { type: 'boolean' },
  cacert: { type: 'string' },
  insecure: { type: 'boolean', short: 'k' },
  proxy: { type: 'string', short: 'x' },
  noproxy: { type: 'string' },
  user: { type: 'string', short: 'u' },
  json: { type: 'boolean' },
  quiet: { type: 'boolean' },
  progress: { type: 'boolean' },
  sha256: { type: 'boolean' },
  digest: { type: 'string' },
  // Kept so scripts written when hashing was the default still run: it is the default now.
  'no-sha256': { type: 'boolean' },
  spool: { type: 'string' },
  'spool-max-bytes': { type: 'string' },
  'spool-fsync': { type: 'boolean' },
  'spool-allow-unsafe-directory': { type: 'boolean' },
  drain: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean' },
  // curl's names, for what curl users type.
  'upload-file': { type: 'string', short: 'T' },
  output: { type: 'string', short: 'o' },
  fail: { type: 'boolean', short: 'f' },
  silent: { type: 'boolean', short: 's' },
  'show-error': { type: 'boolean', short: 'S' },
  verbose: { type: 'boolean', short: 'v' },
} as const;

const RECEIVE_OPTIONS = {
  port: { type: 'string' },
  dir: { type: 'string' },
  'max-bytes': { type: 'string' },
  'max-keys': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** No byte sent or acknowledged for this long ends an upload, unless `--stall-timeout` says otherwise. */
export const DEFAULT_STALL_TIMEOUT_MS = 60_000;

/** One buffer per request in flight is held in memory: a larger one is a mistyped unit, not a plan. */
export const MAX_HIGH_WATER_MARK = 1024 ** 3;

const MODES: readonly UploadMode[] = ['stream', 'batch', 'tus', 's3', 'azure-blob'];

/** Parses the command line; throws `UsageError` naming the problem. */
export function parseCliArgs(argv: string[]): CliArgs {
  if (argv[0] === 'receive') return parseReceiveArgs(argv.slice(1));
  const { values, positionals } = parseFlags(argv, UPLOAD_OPTIONS);
  if (values.help) return { command: 'help' };
  if (values.version) return { command: 'version' };
  if (values.drain) return { ...parseUploadArgs(argv, values, ['', ...positionals]), drain: true };
  return parseUploadArgs(argv, values, positionals);
}

function parseUploadArgs(argv: string[], values: ReturnType<typeof parseFlags<typeof UPLOAD_OPTIONS>>['values'], positionals: string[]): UploadArgs {
  if (values.drain) {
    if (positionals.length !== 2) throw new UsageError(`expected <url> alone with --drain, received ${positionals.length - 1} argument(s); see bhw --help`);
    if (values.spool === undefined) throw new UsageError('--drain needs --spool DIR: it sends what that spool holds');
  }
  const [source, rawUrl] = values.drain ? (positionals as [string, string]) : sourceAndUrl(values['upload-file'], positionals);
  const url = parseUrl('url', rawUrl);
  const mode = (values.mode ?? (values.resume ? 'tus' : 'stream')) as UploadMode;
  if (!MODES.includes(mode)) throw new UsageError(`--mode must be stream, batch, tus, s3 or azure-blob, received ${JSON.stringify(values.mode)}`);
  // s3 and azure-blob: --resume names the upload's state file (created if missing), not a URL.
  if (values.resume !== undefined && (mode === 's3' || mode === 'azure-blob')) {
    if (values.resume === '') throw new UsageError(`--resume needs a state file path with --mode ${mode}, received ""`);
  } else if (values.resume !== undefined) {
    if (mode !== 'tus') throw new UsageError(`--resume applies to --mode tus, s3 and azure-blob only, received --mode ${mode}`);
    values.resume = parseUrl('--resume', values.resume);
  }
  if (values['content-length'] && source === '-') {
    throw new UsageError('--content-length needs a file: the size of stdin is not known in advance');
  }
  if (values.retry !== undefined && mode === 'stream') {
    throw new UsageError('--retry applies to --mode batch, tus and azure-blob only: a streamed body cannot be sent again');
  }
  if (values.spool === undefined) {
    const flag = ['spool-max-bytes', 'spool-fsync', 'spool-allow-unsafe-directory'].find((name) => values[name as keyof typeof values] !== undefined);
    if (flag) throw new UsageError(`--${flag} needs --spool DIR`);
  }
  if (values.spool !== undefined && mode !== 'batch') throw new UsageError(`--spool applies to --mode batch only, received --mode ${mode}`);
  if (values.spool === '') throw new UsageError('--spool needs a directory, received ""');
  if (values.proxy) values.proxy = parseUrl('--proxy', values.proxy);
  if (values.http2 && values.proxy) throw new UsageError('--http2 cannot go through --proxy: leave one of them out');
  const args: UploadArgs = {
    command: 'upload',
    source,
    url,
    mode,
    headers: parseHeaders(values.header ?? []),
    contentLength: values['content-length'] ?? false,
    stallTimeout: values['stall-timeout'] === undefined ? DEFAULT_STALL_TIMEOUT_MS : parseSeconds('--stall-timeout', values['stall-timeout']),
    http2: values.http2 ?? false,
    insecure: values.insecure ?? false,
    json: values.json ?? false,
    quiet: (values.quiet ?? false) || (values.silent ?? false),
    progress: values.progress ?? false,
    sha256: (values.sha256 ?? false) && !values['no-sha256'],
    argv,
    showErrors: !values.silent || (values['show-error'] ?? false),
    fail: values.fail ?? false,
    verbose: values.verbose ?? false,
  };
  if (values.output !== undefined) args.outputFile = values.output;
  if (values['no-expect']) args.noExpect = true;
  if (values.method !== undefined) args.method = values.method;
  if (values['secret-header'] !== undefined) args.secretHeaders = values['secret-header'].map(parseHeaderName);
  if (values['high-water-mark'] !== undefined) args.highWaterMark = parseSize('--high-water-mark', values['high-water-mark'], MAX_HIGH_WATER_MARK);
  if (values.concurrency !== undefined)
    args.concurrency = values.concurrency === 'auto' ? 'auto' : parseInteger('--concurrency', values.concurrency, 1, 'or auto');
  if (values['max-concurrency'] !== undefined) {
    if (args.concurrency !== 'auto') throw new UsageError('--max-concurrency applies with --concurrency auto only');
    args.maxConcurrency = parseInteger('--max-concurrency', values['max-concurrency'], 1);
  }
  if (values['flush-interval'] !== undefined) args.flushInterval = parseInteger('--flush-interval', values['flush-interval'], 1);
  if (values.compress !== undefined) args.compress = values.compress;
  if (values.resume !== undefined) args.resume = values.resume;
  if (values.digest !== undefined) args.digest = parseDigest(values.digest);
  if (values.retry !== undefined) args.retry = parseInteger('--retry', values.retry, 0);
  if (values['max-time'] !== undefined) args.maxTime = parseSeconds('--max-time', values['max-time']);
  if (values['connect-timeout'] !== undefined) args.connectTimeout = parseSeconds('--connect-timeout', values['connect-timeout']);
  if (values.cacert !== undefined) args.cacert = values.cacert;
  if (values.proxy !== undefined) args.proxy = values.proxy;
  if (values.noproxy !== undefined) args.noProxy = values.noproxy;
  if (values.user !== undefined) args.user = parseUser(values.user);
  if (values.spool !== undefined) {
    args.spool = { dir: values.spool, fsync: values['spool-fsync'] ?? false };
    if (values['spool-max-bytes'] !== undefined) args.spool.maxBytes = parseSize('--spool-max-bytes', values['spool-max-bytes']);
    if (values['spool-allow-unsafe-directory']) args.spool.allowUnsafeDirectory = true;
  }
  return args;
}

/** `bhw FILE URL`, or curl's `bhw -T FILE URL`. */
function sourceAndUrl(uploadFile: string | undefined, positionals: string[]): [string, string] {
  const expected = uploadFile === undefined ? 2 : 1;
  if (positionals.length !== expected) {
    const what = uploadFile === undefined ? '<file|-> <url>' : '<url> after -T FILE';
    throw new UsageError(`expected ${what}, received ${positionals.length} argument(s); see bhw --help`);
  }
  return uploadFile === undefined ? (positionals as [string, string]) : [uploadFile, positionals[0]!];
}

function parseReceiveArgs(argv: string[]): CliArgs {
  const { values, positionals } = parseFlags(argv, RECEIVE_OPTIONS);
  if (values.help) return { command: 'help' };
  if (positionals.length > 0) throw new UsageError(`bhw receive takes no arguments, received ${JSON.stringify(positionals[0])}`);
  const port = values.port === undefined ? 8080 : parseInteger('--port', values.port, 0);
  if (port > 65535) throw new UsageError(`--port must be at most 65535, received ${port}`);
  const args: ReceiveArgs = { command: 'receive', port, dir: values.dir ?? 'received' };
  if (values['max-bytes'] !== undefined) args.maxBytes = parseSize('--max-bytes', values['max-bytes']);
  if (values['max-keys'] !== undefined) args.maxKeys = parseInteger('--max-keys', values['max-keys'], 1);
  return args;
}
