/**
 * Exports a stream of unknown length (a file, gzipped on the way, or stdin)
 * to an S3 object as a multipart upload, and continues it in a later run
 * (mode 's3' needs the SigV4 signer beside the library: `npm install @smithy/signature-v4`):
 *
 *   export AWS_ACCESS_KEY_ID=… AWS_SECRET_ACCESS_KEY=… AWS_REGION=eu-west-1
 *   node dist/examples/s3-export.js --gzip --state db.upload.json db.sql https://my-bucket.s3.eu-west-1.amazonaws.com/db.sql.gz
 *   pg_dump mydb | node dist/examples/s3-export.js --state dump.json - https://my-bucket.s3.eu-west-1.amazonaws.com/db.sql
 *   # … it fails or is killed; the same command again sends only the parts S3 does not hold yet.
 *
 * Resuming a gzip stage works on the compressed stream: the stored parts are
 * the first `bytesStored` bytes of the gzip output, and gzip output depends
 * only on the input, the zlib build and the level (Node writes no time or
 * name into the header), so compressing the same file again repeats those
 * bytes and skipping that many compressed bytes goes on where the parts end.
 * A changed file or another Node (another zlib) would break that, so the
 * skipped bytes are checked against the CRC32 S3 holds for each stored part
 * (the state file records it): a mismatch stops before anything is sent. The
 * same check makes stdin safe to resume: it must carry the same bytes again.
 * (A plain file could go through `uploadFile`, which starts at `bytesStored`
 * by itself without reading what is stored.)
 */
import { createReadStream } from 'node:fs';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { crc32, createGzip } from 'node:zlib';
import { BufferedHttpWritable, readUploadState, type UploadState } from 'buffered-http-writable';
import { reportUploadFailure } from './upload-failure.js';
import { checkInputFile } from './input-file.js';

const PROGRAM = 's3-export';
const USAGE = `usage: ${PROGRAM} [--gzip] [--state FILE] <file | -> <s3 object URL>`;

export interface S3ExportOptions {
  credentials: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  region?: string;
  gzip?: boolean;
  /** Record the upload here, and continue the one it records. */
  stateFile?: string;
  onProgress?(bytesStored: number): void;
}

/** The input did not repeat the bytes of the stored parts: the upload cannot go on from its state file. */
export class InputChangedError extends Error {}

/** Uploads `input` (gzipped with `gzip`) to the S3 object `url`; resolves with the bytes S3 holds. */
export async function exportToS3(input: Readable, url: string, options: S3ExportOptions): Promise<number> {
  const resumed = options.stateFile ? await readUploadState(options.stateFile) : undefined;
  const start = resumed?.bytesStored ?? 0;
  const upload = new BufferedHttpWritable(url, {
    mode: 's3',
    ...(options.stateFile ? { stateFile: options.stateFile } : {}),
    s3: {
      credentials: options.credentials,
      ...(options.region ? { region: options.region } : {}),
      // CRC32 per part (the default, said out loud): what a resumed run checks the skipped bytes against.
      checksum: 'crc32',
      contentType: options.gzip ? 'application/gzip' : 'application/octet-stream',
    },
  });
  upload.on('progress', (progress) => options.onProgress?.(start + progress.bytesAcknowledged));
  const stages = [input, ...(options.gzip ? [createGzip()] : []), ...(resumed ? [skipStoredParts(resumed)] : [])];
  await pipeline([...stages, upload]);
  return start + upload.bytesAcknowledged;
}

/** Drops the bytes the stored parts hold, checking each part's CRC32 against what S3 recorded. */
function skipStoredParts({ parts, bytesStored }: UploadState): Transform {
  let part = 0;
  let inPart = 0;
  let crc = 0;
  let skipped = 0;
  return new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      let rest = chunk;
      while (rest.length > 0 && part < parts.length) {
        const { number, size, checksum } = parts[part]!;
        const take = rest.subarray(0, size - inPart);
        crc = crc32(take, crc);
        inPart += take.length;
        skipped += take.length;
        rest = rest.subarray(take.length);
        if (inPart < size) break;
        if (checksum !== undefined && checksum !== uint32Base64(crc)) {
          return callback(
            new InputChangedError(`the input differs from part ${number} S3 holds: this upload cannot be continued; remove the state file to start over`),
          );
        }
        [part, inPart, crc] = [part + 1, 0, 0];
      }
      callback(null, rest.length > 0 ? rest : undefined);
    },
    flush(callback) {
      callback(skipped < bytesStored ? new InputChangedError(`the input ends at byte ${skipped}, before the ${bytesStored} bytes S3 holds`) : null);
    },
  });
}

/** S3 gives a CRC32 as the base64 of its 4 bytes, big-endian. */
function uint32Base64(value: number): string {
  const bytes = Buffer.alloc(4);
  bytes.writeUInt32BE(value >>> 0);
  return bytes.toString('base64');
}

function fail(message: string): never {
  console.error(message);
  process.exit(2);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  let parsed;
  try {
    parsed = parseArgs({ allowPositionals: true, options: { gzip: { type: 'boolean' }, state: { type: 'string' } } });
  } catch (error) {
    fail(`${PROGRAM}: ${(error as Error).message}`);
  }
  const [path, url] = parsed.positionals;
  if (!path || !url || parsed.positionals.length > 2) fail(USAGE);
  const { AWS_ACCESS_KEY_ID: accessKeyId, AWS_SECRET_ACCESS_KEY: secretAccessKey, AWS_SESSION_TOKEN: sessionToken } = process.env;
  if (!accessKeyId || !secretAccessKey) fail(`${PROGRAM}: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY`);
  if (path !== '-') await checkInputFile(PROGRAM, path);
  const { gzip = false, state } = parsed.values;
  try {
    const stored = await exportToS3(path === '-' ? process.stdin : createReadStream(path), url, {
      credentials: { accessKeyId, secretAccessKey, ...(sessionToken ? { sessionToken } : {}) },
      ...(process.env.AWS_REGION || process.env.AWS_DEFAULT_REGION ? { region: (process.env.AWS_REGION || process.env.AWS_DEFAULT_REGION)! } : {}),
      gzip,
      ...(state ? { stateFile: state } : {}),
      onProgress: (bytes) => process.stdout.write(`\r${bytes} bytes stored`),
    });
    console.log(`\ndone: ${stored} bytes in ${url}`);
  } catch (error) {
    reportUploadFailure(PROGRAM, error, state, 'parts');
  }
}
