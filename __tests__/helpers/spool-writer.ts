/**
 * A child process for the spool crash tests: writes numbered NDJSON records
 * into a spooled batch upload and prints `ok <n>` once each record's write
 * callback fired (the record is on disk). The test SIGKILLs it at any moment.
 *
 *   node spool-writer.js <url> <dir> <fsync 0|1> <run> write|drain
 *
 * `drain` writes nothing and ends: it sends what the spool holds and prints a
 * JSON line with the final progress once 'finish' came.
 */
import { BufferedHttpWritable } from '../../lib/index.js';

const [url, dir, fsync, run, mode] = process.argv.slice(2) as [string, string, string, string, string];
const upload = new BufferedHttpWritable(url, {
  mode: 'batch',
  highWaterMark: 4096,
  concurrency: 2,
  spool: { dir, fsync: fsync === '1', maxBytes: 1 << 20 },
  retry: { limit: 1000, backoffLimit: 20 },
});
upload.on('error', (error) => {
  process.stderr.write(`${(error as Error).stack}\n`);
  process.exit(1);
});

if (mode === 'drain') {
  upload.on('finish', () => {
    process.stdout.write(`${JSON.stringify(upload.progress)}\n`, () => process.exit(0));
  });
  upload.end();
} else {
  let n = 0;
  const writeMore = (): void => {
    for (;;) {
      const record = n++;
      const line = `${JSON.stringify({ run: Number(run), n: record, pad: 'x'.repeat(record % 64) })}\n`;
      const more = upload.write(line, (error) => {
        if (!error) process.stdout.write(`ok ${record}\n`);
      });
      if (!more) {
        upload.once('drain', writeMore);
        return;
      }
    }
  };
  writeMore();
}
