import { BufferedHttpWritableError, hasUrlCredentials, isCredentialHeader, redactUrl } from '../lib/index.js';
import { formatBytes, formatRate } from './units.js';

/** What one finished upload reports: the stderr summary and the `--json` object. */
export interface UploadSummary {
  /** Bytes sent by this run. */
  bytes: number;
  /** Hex sha256 of the bytes this run sent (with `--resume`: from the server's offset on, not the part it already held). */
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

/**
 * One line: the reason, and how far the upload got. The figures come from the
 * library error's fields (`bytesSent`, `bytesAcknowledged`, `offset`,
 * `uploadUrl`), never from its message.
 */
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
    if (hasUrlCredentials(arg)) {
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

/** An error's message as it is, on one line: the figures are the caller's to print, from the error's fields. */
export function reasonOf(error: Error): string {
  return error.message.replace(/\s+/g, ' ').trim();
}
