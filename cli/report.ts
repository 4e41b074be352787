import { parseArgs } from 'node:util';
import { BufferedHttpWritableError, type DigestAlgorithm, type SpoolState } from '../lib/index.js';
import { isCredentialHeader, REDACTED, redactUrl } from '../lib/redact.js';
import { UPLOAD_OPTIONS } from './args.js';
import { formatBytes, formatRate } from './units.js';

/** What one finished upload reports: the stderr summary and the `--json` object. */
export interface UploadSummary {
  /** Bytes sent by this run. */
  bytes: number;
  /** Hex sha256 of the bytes this run sent (with `--resume`: from the server's offset on, not the part it already held); absent with `--no-sha256`. */
  sha256?: string;
  /** `--digest`: the algorithm of the digests the requests carried. */
  digest?: DigestAlgorithm;
  /** `--digest`, stream mode: the `Content-Digest` field value of the whole body sent. */
  contentDigest?: string;
  /** The final answer's status; null when no request was needed (an empty batch upload). */
  statusCode: number | null;
  seconds: number;
  mode: string;
  uploadUrl?: string;
  /** `--resume`: the server's offset this run started from. */
  offset?: number;
  /** `--spool`: bytes an earlier run left in the spool, sent first by this one. */
  bytesFromSpool?: number;
  body: string;
}

export function summaryLine(summary: UploadSummary): string {
  const from = summary.offset ? ` from offset ${summary.offset}` : '';
  const parts = [
    `${summary.bytes} bytes (${formatBytes(summary.bytes)})${from} in ${summary.seconds.toFixed(2)} s`,
    formatRate(summary.bytes, summary.seconds),
  ];
  if (summary.sha256 !== undefined) parts.push(`sha256 ${summary.sha256}`);
  parts.push(`status ${summary.statusCode ?? 'none'}`);
  if (summary.bytesFromSpool !== undefined) parts.push(`${summary.bytesFromSpool} bytes from the spool`);
  if (summary.uploadUrl) parts.push(`upload ${summary.uploadUrl}`);
  return `bhw: uploaded ${parts.join(', ')}`;
}

/** With `--digest`: the digest sent, or where each request carried its own; undefined without. */
export function digestLine(summary: UploadSummary): string | undefined {
  if (summary.contentDigest !== undefined) return `bhw: sent Content-Digest: ${summary.contentDigest}`;
  if (summary.digest === undefined) return undefined;
  if (summary.mode === 'tus') return `bhw: each PATCH carried Upload-Checksum (${summary.digest}) of its own bytes where the server takes the algorithm`;
  return `bhw: each request carried its own Content-Digest (${summary.digest}) of its bytes as sent`;
}

/** What the upload had reached when it failed, from the error's fields or, for other errors, the writable's counters. */
export interface Reached {
  bytesSent: number;
  bytesAcknowledged: number;
  offset?: number;
  /** tus: the upload exists on the server, which holds `bytesAcknowledged` of it. */
  uploadUrl?: string;
}

/**
 * One line: the reason, and how far the upload got. The figures come from the
 * library error's fields (`bytesSent`, `bytesAcknowledged`, `offset`,
 * `uploadUrl`), never from its message.
 */
export function failureLine(error: Error, reached: Reached, total?: number, tries = '', reason = reasonOf(error)): string {
  const figures = error instanceof BufferedHttpWritableError ? error : reached;
  const of = total === undefined ? '' : ` of ${total}`;
  // tus: the offset means something only once the upload exists on the server.
  // An error of the CLI's own (a timeout) takes it from the upload: in tus its acknowledged bytes are the server's offset.
  const holds =
    error instanceof BufferedHttpWritableError
      ? error.uploadUrl !== undefined && error.offset !== undefined
        ? error.offset
        : undefined
      : reached.uploadUrl !== undefined
        ? reached.bytesAcknowledged
        : undefined;
  const stored = holds === undefined ? '' : `; the server holds ${holds} bytes of the upload`;
  return `bhw: upload failed: ${reason} (sent ${figures.bytesSent}${of} bytes, ${figures.bytesAcknowledged} acknowledged${stored}${tries})`;
}

/** After a failure with `--spool`: what stayed on disk, and where a refused batch went. */
export function spoolLines(spool: SpoolState): string[] {
  const lines = [
    spool.bytesStored > 0
      ? `bhw: the spool ${spool.dir} keeps ${spool.bytesStored} bytes; run the same command again to send them`
      : `bhw: the spool ${spool.dir} holds nothing more to send`,
  ];
  if (spool.setAside) lines.push(`bhw: the batch the server refused was set aside in ${spool.setAside}`);
  return lines;
}

/**
 * The command that continues a failed tus upload: the arguments as given,
 * with `--resume <uploadUrl>` in place of any earlier one. Credentials (`-u`
 * passwords, credential and `--secret-header` `-H` values, URL and proxy
 * passwords, secret query values) are replaced by `[REDACTED]` so they do not
 * end up in logs.
 */
export function resumeCommand(argv: string[], uploadUrl: string): { command: string; redacted: boolean } {
  // The upload URL comes redacted from the library: a signed one needs filling in too.
  const rebuilt = rebuildCommand(argv, ['--resume', uploadUrl], (token) => token.kind === 'option' && token.name === 'resume');
  return { command: rebuilt.command, redacted: rebuilt.redacted || uploadUrl.includes(REDACTED) };
}

/** The command that sends what a spool holds and nothing else: the arguments as given, with `--drain` for the input, redacted as `resumeCommand`. */
export function drainCommand(argv: string[]): { command: string; redacted: boolean } {
  let positionals = 0;
  return rebuildCommand(argv, ['--drain'], (token) => token.kind === 'positional' && positionals++ === 0);
}

/** `bhw`, then `prefix`, then the arguments as given without those `skip` names, credentials redacted. */
function rebuildCommand(argv: string[], prefix: string[], skip: (token: ArgToken) => boolean): { command: string; redacted: boolean } {
  const args: string[] = [];
  let redacted = false;
  const keep = (text: string, safe: string): void => {
    if (safe !== text) redacted = true;
    args.push(safe);
  };
  // The same parse as the command's own, so `-uUSER:PW`, `--user=...` and short groups are seen too.
  const { tokens } = parseArgs({ args: argv, options: UPLOAD_OPTIONS, allowPositionals: true, strict: false, tokens: true });
  const secretHeaders = tokens.flatMap((token) =>
    token.kind === 'option' && token.name === 'secret-header' && token.value ? [token.value.toLowerCase()] : [],
  );
  for (const token of tokens) {
    if (skip(token)) continue;
    if (token.kind === 'option-terminator') args.push('--');
    else if (token.kind === 'positional') keep(token.value, redactUrlSecrets(token.value));
    else if (token.value === undefined) args.push(token.rawName);
    else {
      args.push(token.rawName);
      keep(token.value, redactOptionValue(token.name, token.value, secretHeaders));
    }
  }
  const command = ['bhw', ...prefix, ...args].map(shellQuote).join(' ');
  return { command, redacted };
}

type ArgToken = NonNullable<ReturnType<typeof parseArgs>['tokens']>[number];

function redactOptionValue(name: string, value: string, secretHeaders: readonly string[]): string {
  if (name === 'user') return `${value.slice(0, Math.max(0, value.indexOf(':')))}:${REDACTED}`;
  const header = /^([^:]+):/.exec(value);
  if (name === 'header' && header && isCredentialHeader(header[1]!.trim(), secretHeaders)) return `${header[1]}: ${REDACTED}`;
  return redactUrlSecrets(value);
}

/**
 * A URL with its password (or a user alone, which may be a token) and its
 * secret query values shown as `[REDACTED]`, the user kept to be filled in;
 * other text as it is.
 */
function redactUrlSecrets(text: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return text;
  }
  const safe = redactUrl(url);
  if (!url.username && !url.password) return safe === url.href ? text : safe;
  const user = url.password ? `${url.username}:${REDACTED}` : REDACTED;
  return `${url.protocol}//${user}@${safe.slice(url.protocol.length + 2)}`;
}

function shellQuote(arg: string): string {
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}

/** An error's message as it is, on one line: the figures are the caller's to print, from the error's fields. */
export function reasonOf(error: Error): string {
  return error.message.replace(/\s+/g, ' ').trim();
}
