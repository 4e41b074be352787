import { BufferedHttpWritableError, isCredentialHeader, redactUrl } from '../lib/index.js';

/** What one finished upload reports: the stderr summary and the `--json` object. */
export interface UploadSummary {
  /** Bytes sent by this run. */
  bytes: number;
  /** Hex sha256 of the upload's content (with `--resume`: the whole content, the part already stored included). */
  sha256: string;
  /** The final answer's status; null when no request was needed (an empty batch upload). */
  statusCode: number | null;
  seconds: number;
  mode: string;
  uploadUrl?: string;
  /** `--resume`: the server's offset this run started from. */
  offset?: number;
  body: string;
}

/** `1536` → `1.5 KiB`. */
export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${bytes} B` : `${value.toFixed(1)} ${units[unit]}`;
}

/** Decimal megabytes per second, as download tools print them. */
export function formatRate(bytes: number, seconds: number): string {
  return `${(seconds > 0 ? bytes / seconds / 1e6 : 0).toFixed(2)} MB/s`;
}

export function summaryLine(summary: UploadSummary): string {
  const from = summary.offset ? ` from offset ${summary.offset}` : '';
  const parts = [
    `${summary.bytes} bytes (${formatBytes(summary.bytes)})${from} in ${summary.seconds.toFixed(2)} s`,
    formatRate(summary.bytes, summary.seconds),
    `sha256 ${summary.sha256}`,
    `status ${summary.statusCode ?? 'none'}`,
  ];
  if (summary.uploadUrl) parts.push(`upload ${summary.uploadUrl}`);
  return `bhw: uploaded ${parts.join(', ')}`;
}

/** What the upload had reached when it failed, from the error's fields or, for other errors, the writable's counters. */
export interface Reached {
  bytesSent: number;
  bytesAcknowledged: number;
  offset?: number;
}

/** One line: the reason, and how far the upload got. */
export function failureLine(error: Error, reached: Reached, total?: number): string {
  const figures = error instanceof BufferedHttpWritableError ? error : reached;
  const reason = reasonOf(error);
  const of = total === undefined ? '' : ` of ${total}`;
  // tus: the offset means something only once the upload exists on the server.
  const holds = figures.offset !== undefined && error instanceof BufferedHttpWritableError && error.uploadUrl !== undefined;
  const stored = holds ? `; the server holds ${figures.offset} bytes of the upload` : '';
  return `bhw: upload failed: ${reason} (sent ${figures.bytesSent}${of} bytes, ${figures.bytesAcknowledged} acknowledged${stored})`;
}



/**
 * The command that continues a failed tus upload: the arguments as given,
 * with `--resume <uploadUrl>` in place of any earlier one. Secrets are
 * replaced by placeholders so they do not end up in logs.
 */
export function resumeCommand(argv: string[], uploadUrl: string): { command: string; redacted: boolean } {
  const args: string[] = [];
  let redacted = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--resume') {
      i++;
      continue;
    }
    if (arg.startsWith('--resume=')) continue;
    const header = /^([^:]+):/.exec(arg);
    if ((argv[i - 1] === '-H' || argv[i - 1] === '--header') && header && isCredentialHeader(header[1]!.trim())) {
      args.push(`${header[1]}: <redacted>`);
      redacted = true;
      continue;
    }
    if (/^https?:\/\/[^/]*@/.test(arg)) {
      args.push(redactUrl(arg));
      redacted = true;
      continue;
    }
    args.push(arg);
  }
  const command = ['bhw', '--resume', uploadUrl, ...args].map(shellQuote).join(' ');
  return { command, redacted };
}

function shellQuote(arg: string): string {
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}

/** An error's message on one line, without the counters the library appends (restated in words by the caller). */
export function reasonOf(error: Error): string {
  return error.message.replace(/ \(\d+ bytes written, \d+ sent, \d+ acknowledged\)$/, '').replace(/\s+/g, ' ').trim();
}
