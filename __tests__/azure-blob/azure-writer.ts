/**
 * A child process for the azure-blob resume test: uploads a file to a blob
 * with a state file, from where the state file says the stored blocks end,
 * and prints `acked <bytes>` as blocks are acknowledged. With a stop offset
 * it writes the file up to there and then waits, the upload open, for the
 * test to SIGKILL it; without one it ends and prints `sent <bytes>`, `done`.
 *
 *   node azure-writer.js <blob url> <state file> <file> [stop offset]
 */
import { createReadStream } from 'node:fs';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { BufferedHttpWritable, readUploadState } from '../../lib/index.js';

const [url, stateFile, file, stop] = process.argv.slice(2) as [string, string, string, string | undefined];
const start = (await readUploadState(stateFile))?.bytesStored ?? 0;
const upload = new BufferedHttpWritable(url, { mode: 'azure-blob', stateFile, highWaterMark: 64 * 1024, concurrency: 3 });
upload.on('progress', ({ bytesAcknowledged }) => process.stdout.write(`acked ${start + bytesAcknowledged}\n`));
if (stop === undefined) {
  await pipeline(createReadStream(file, { start }), upload);
  process.stdout.write(`sent ${upload.progress.bytesSent}\ndone\n`);
} else {
  // Written up to `stop`, then held open: the process lives until it is killed.
  await pipeline(
    createReadStream(file, { start, end: Number(stop) - 1 }),
    new Writable({ write: (chunk, _encoding, callback) => upload.write(chunk, callback) }),
  );
  setInterval(() => {}, 60_000);
}
