import { writeFile } from 'node:fs/promises';
import { BufferedHttpWritableError, HttpStatusError, type SpoolState } from '../lib/index.js';
import { REDACTED } from '../lib/redact.js';
import type { UploadArgs } from './args.js';
import { EXIT_FAILED, EXIT_HTTP_ERROR, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE } from './io.js';
import type { Output } from './output.js';
import { digestLine, failureLine, reasonOf, resumeCommand, spoolLines, summaryLine, type Reached, type UploadSummary } from './report.js';
import { ShortInputError } from './sha256-transform.js';

/*
 * How a run ends, on stdout, stderr and in the exit code: the summary of an
 * upload that succeeded, or what a failed or interrupted one reached.
 */

/** A run that did not succeed, with what is known of how far it got. */
export interface Failure {
  error: Error;
  /** Ctrl-C (not a timeout of the CLI's own). */
  interrupted: boolean;
  reached: Reached;
  /** Bytes this run had to send, when known. */
  size?: number | undefined;
  /** batch with `--spool`: what stayed on disk. */
  spool?: SpoolState | undefined;
  /** Attempts the failed request took, when it was retried. */
  attempts?: number | undefined;
}

/** Prints the body (stdout, or `-o FILE`) or the `--json` object, then the summary line. */
export async function succeeded(args: UploadArgs, output: Output, summary: UploadSummary): Promise<number> {
  // The body comes last in --json, as before the optional fields.
  const { body, ...rest } = summary;
  if (args.outputFile !== undefined) {
    try {
      await writeFile(args.outputFile, output.redact(body));
    } catch (error) {
      output.error(`bhw: uploaded, but cannot write the answer to ${args.outputFile}: ${(error as Error).message}`);
      return EXIT_FAILED;
    }
  }
  if (args.json) output.stdout(`${JSON.stringify({ ...rest, body })}\n`);
  else if (args.outputFile === undefined) output.stdout(body);
  if (!args.quiet) {
    output.stderr(summaryLine(summary));
    const digest = digestLine(summary);
    if (digest) output.stderr(digest);
  }
  return EXIT_OK;
}

/**
 * The failure line (and the spool's and the resume command's lines) on
 * stderr, unless `-s`; with `--json`, the same facts as one object on stdout.
 * Exit 130 after Ctrl-C, 22 for an HTTP error status with `-f`, else 1.
 */
export function failed(args: UploadArgs, output: Output, failure: Failure): number {
  const { error, reached, spool, attempts } = failure;
  if (error instanceof ShortInputError) {
    output.error(`bhw: ${error.message}: the input must carry the same bytes as in the first run`);
    return EXIT_USAGE;
  }
  const httpError = error instanceof HttpStatusError && error.statusCode >= 400 ? error : undefined;
  const code = failure.interrupted ? EXIT_INTERRUPTED : args.fail && httpError ? EXIT_HTTP_ERROR : EXIT_FAILED;
  const uploadUrl = (error as { uploadUrl?: string }).uploadUrl ?? reached.uploadUrl;
  const resume = args.mode === 'tus' && uploadUrl ? resumeCommand(args.argv, uploadUrl) : undefined;
  const figures = error instanceof BufferedHttpWritableError ? error : reached;
  // -f: the answer's body is not shown, in the line or the object.
  const reason = args.fail && httpError ? statusOnly(httpError) : reasonOf(error);
  if (args.json) {
    const shown: Record<string, unknown> = { name: error.name, message: failure.interrupted ? 'interrupted' : reason };
    if ('code' in error && typeof error.code === 'string') shown.code = error.code;
    if (httpError) shown.statusCode = httpError.statusCode;
    if (httpError && !args.fail) shown.body = httpError.body;
    const report: Record<string, unknown> = { error: shown, exitCode: code, bytesSent: figures.bytesSent, bytesAcknowledged: figures.bytesAcknowledged };
    if (attempts !== undefined) report.attempts = attempts;
    if (uploadUrl) report.uploadUrl = uploadUrl;
    if (spool) report.spool = spool;
    if (resume) report.resume = resume.command;
    output.stdout(`${JSON.stringify(report)}\n`);
  }
  // The library's message already counts the attempts when its retries gave up (`error.retries`).
  const counted = (error as { retries?: unknown }).retries !== undefined;
  const tries = attempts === undefined || counted ? '' : `, after ${attempts} attempts`;
  if (failure.interrupted) {
    output.error(`bhw: interrupted (sent ${reached.bytesSent} bytes, ${reached.bytesAcknowledged} acknowledged${tries})`);
  } else {
    output.error(failureLine(error, reached, failure.size, tries, reason));
  }
  if (spool) for (const line of spoolLines(spool)) output.error(line);
  // azure-blob with --resume: the state file keeps the stored blocks, and the same command goes on after them.
  if (args.mode === 'azure-blob' && args.resume !== undefined)
    output.error(`bhw: the stored blocks are recorded in ${args.resume}: run the same command again to continue`);
  if (resume) {
    output.error(`bhw: to continue: ${resume.command}`);
    if (resume.redacted) output.error(`bhw: (fill in the values shown as ${REDACTED})`);
  }
  return code;
}

/** `-f`: the status without the answer's body, as curl's `(22) The requested URL returned error: 503`. */
function statusOnly(error: HttpStatusError): string {
  const where = error.sequence === undefined ? '' : ` for batch ${error.sequence}`;
  return `Server answered ${error.statusCode}${error.statusMessage ? ` ${error.statusMessage}` : ''}${where}`;
}
