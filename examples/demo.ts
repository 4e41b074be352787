/**
 * `npm run demo`: the whole job on an embedded default. Starts the receiving
 * server of `bhw receive` on 127.0.0.1, writes a test file of 64 MiB, uploads it with
 * `pipeline(createReadStream(file), new BufferedHttpWritable(url))`, and
 * checks that the server stored exactly what was sent.
 *
 *   node dist/examples/demo.js [MiB]
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { BufferedHttpWritable } from 'buffered-http-writable';
import { startReceiveServer } from '../cli/receive-server.js';

const mebibytes = Number(process.argv[2] ?? 64);
const work = await mkdtemp(join(tmpdir(), 'bhw-demo-'));
const file = join(work, 'demo.bin');
// The server of `bhw receive`, quiet: the demo prints its own lines.
const receiver = await startReceiveServer({ port: 0, dir: join(work, 'received'), log: () => {} });

try {
  // A test file of random bytes, hashed while it is written.
  const sourceHash = createHash('sha256');
  const block = randomBytes(1024 * 1024);
  const blocks = Readable.from(
    (function* () {
      for (let i = 0; i < mebibytes; i++) yield block.subarray(0, 1024 * 1024 - (i % 7)); // uneven sizes: a harder test
    })(),
  );
  let fileSize = 0;
  blocks.on('data', (chunk: Buffer) => {
    sourceHash.update(chunk);
    fileSize += chunk.length;
  });
  await pipeline(blocks, createWriteStream(file));
  const sent = sourceHash.digest('hex');

  console.log(`receiver: ${receiver.url}`);
  console.log(`uploading ${file} (${(fileSize / 1048576).toFixed(1)} MiB) in stream mode…`);
  const started = process.hrtime.bigint();
  const upload = new BufferedHttpWritable(`${receiver.url}/upload`);
  await pipeline(createReadStream(file), upload);
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;

  const answer = JSON.parse(upload.response!.body) as { bytes: number; sha256: string };
  console.log(`status:   ${upload.response!.statusCode}`);
  console.log(`size:     ${fileSize} bytes sent, ${upload.bytesAcknowledged} acknowledged, ${answer.bytes} stored`);
  console.log(`time:     ${seconds.toFixed(2)} s, ${(fileSize / 1e6 / seconds).toFixed(0)} MB/s`);
  console.log(`sent:     sha256 ${sent}`);
  console.log(`received: sha256 ${answer.sha256}`);
  if (answer.sha256 !== sent || answer.bytes !== fileSize) {
    console.error('MISMATCH: the server did not store exactly what was sent');
    process.exitCode = 1;
  } else {
    console.log('OK: the server stored exactly what was sent');
  }
} finally {
  await receiver.close();
  await rm(work, { recursive: true, force: true });
}
