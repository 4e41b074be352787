/**
 * A small receiving server: stores each upload under a directory and answers
 * with its size and sha256. Handy to try the library locally:
 *
 *   node dist/examples/receiver.js 8080 ./received
 */
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';

export interface Receiver {
  url: string;
  close(): Promise<void>;
}

export async function startReceiver({ port = 0, dir = 'received' }: { port?: number; dir?: string } = {}): Promise<Receiver> {
  await mkdir(dir, { recursive: true });
  let count = 0;
  const server = createServer(async (request, response) => {
    const hash = createHash('sha256');
    let bytes = 0;
    // Hash and count on the way to disk, without holding the body in memory.
    const measure = new Transform({
      transform(chunk: Buffer, _encoding, callback) {
        hash.update(chunk);
        bytes += chunk.length;
        callback(null, chunk);
      },
    });
    const file = join(dir, `upload-${++count}.bin`);
    try {
      await pipeline(request, measure, createWriteStream(file));
      const sha256 = hash.digest('hex');
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end(JSON.stringify({ bytes, sha256, file }));
    } catch (error) {
      response.writeHead(500, { 'content-type': 'text/plain' });
      response.end(`upload failed: ${(error as Error).message}`);
    }
  });
  server.listen(port, '127.0.0.1');
  await once(server, 'listening');
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: async () => {
      server.closeAllConnections();
      server.close();
      await once(server, 'close');
    },
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [port = '8080', dir = 'received'] = process.argv.slice(2);
  const receiver = await startReceiver({ port: Number(port), dir });
  console.log(`receiving at ${receiver.url}, storing under ${dir}/`);
}
