/**
 * Backs a file up to an Azure block blob, and continues it in a later run.
 * The blob URL carries a SAS with create and write permission (sp=cw); quote
 * it, or the shell cuts it at the first `&`:
 *
 *   node dist/examples/azure-blob-backup.js --state db.backup.json --content-type application/gzip \
 *     db.dump.gz 'https://myaccount.blob.core.windows.net/backups/db.dump.gz?sv=…&se=…&sr=b&sp=cw&sig=…'
 *   # … it fails or is killed; the same command again sends only the blocks Azure does not hold yet.
 *
 * The SAS is a secret: the library shows its `sig` as [REDACTED] in every
 * error, and the URL printed here goes through the package's `redactUrl`.
 */
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { readUploadState, uploadFile } from 'buffered-http-writable';
import { redactUrl } from 'buffered-http-writable/redact';
import { reportUploadFailure } from './upload-failure.js';
import { checkInputFile } from './input-file.js';

const PROGRAM = 'azure-blob-backup';
const USAGE = `usage: ${PROGRAM} [--state FILE] [--content-type TYPE] <file> '<blob URL with SAS>'`;

export interface BackupOptions {
  contentType?: string;
  /** Record the blocks here, and continue the upload it records. */
  stateFile?: string;
  onProgress?(bytesStored: number): void;
}

/** Uploads `path` to the blob `url` (with its SAS); resolves with the blob's size. */
export async function backupToBlob(path: string, url: string, options: BackupOptions = {}): Promise<number> {
  // uploadFile reads the file from where the stored blocks end by itself; this is only to count from there.
  const start = options.stateFile ? ((await readUploadState(options.stateFile))?.bytesStored ?? 0) : 0;
  const result = await uploadFile(path, url, {
    mode: 'azure-blob',
    ...(options.stateFile ? { stateFile: options.stateFile } : {}),
    ...(options.contentType ? { azureBlob: { contentType: options.contentType } } : {}),
    onProgress: (progress) => options.onProgress?.(start + progress.bytesAcknowledged),
  });
  return start + result.bytesAcknowledged;
}

function fail(message: string): never {
  console.error(message);
  process.exit(2);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  let parsed;
  try {
    parsed = parseArgs({ allowPositionals: true, options: { state: { type: 'string' }, 'content-type': { type: 'string' } } });
  } catch (error) {
    fail(`${PROGRAM}: ${(error as Error).message}`);
  }
  const [path, url] = parsed.positionals;
  if (!path || !url || parsed.positionals.length > 2) fail(USAGE);
  // An unquoted URL loses everything after its first `&` (the sig among it) to the shell.
  if (!URL.canParse(url) || !new URL(url).searchParams.has('sig')) fail(`${PROGRAM}: the blob URL carries no SAS (sig=…): quote the whole URL`);
  await checkInputFile(PROGRAM, path);
  const { state, 'content-type': contentType } = parsed.values;
  try {
    const size = await backupToBlob(path, url, {
      ...(state ? { stateFile: state } : {}),
      ...(contentType ? { contentType } : {}),
      onProgress: (bytes) => process.stdout.write(`\r${bytes} bytes stored`),
    });
    console.log(`\ndone: ${size} bytes in ${redactUrl(url)}`);
  } catch (error) {
    // The library's messages already show the SAS as [REDACTED].
    reportUploadFailure(PROGRAM, error, state, 'blocks');
  }
}
