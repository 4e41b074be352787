/**
 * A receiving server to try the library against: stores each upload under a
 * directory and answers with its size and sha256 (stream, batch and tus). It is
 * the server of `bhw receive` (cli/receive-server.ts), started in-process:
 *
 *   node dist/examples/receiver.js 8080 ./received
 *
 * Without a directory it stores under the OS temporary directory.
 */
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startReceiveServer } from '../cli/receive-server.js';

const [port = '8080', dir = join(tmpdir(), 'bhw-received')] = process.argv.slice(2);
const receiver = await startReceiveServer({ port: Number(port), dir });
console.log(`receiving at ${receiver.url} (tus at ${receiver.url}/tus${receiver.tus ? '' : ': unavailable'}), storing under ${receiver.dir}`);
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => void receiver.close());
