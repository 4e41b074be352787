/**
 * A child process for the resume test: uploads a file in mode 's3' with a
 * state file, and prints `acknowledged <bytes>` at each progress, so the test
 * can SIGKILL it once some parts are stored.
 *
 *   node s3-writer.js <file> <url> <stateFile> <accessKeyId> <secretAccessKey> <region>
 */
import { uploadFile } from '../../lib/index.js';

const [file, url, stateFile, accessKeyId, secretAccessKey, region] = process.argv.slice(2) as [string, string, string, string, string, string];
uploadFile(file, url, {
  mode: 's3',
  highWaterMark: 5 * 1024 * 1024,
  concurrency: 2,
  stateFile,
  s3: { credentials: { accessKeyId, secretAccessKey }, region },
  onProgress: (progress) => process.stdout.write(`acknowledged ${progress.bytesAcknowledged}\n`),
}).then(
  () => process.stdout.write('done\n'),
  (error: unknown) => {
    process.stderr.write(`${(error as Error).stack}\n`);
    process.exit(1);
  },
);
