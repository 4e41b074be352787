/**
 * A minimal S3-speaking sink for the S3 multipart bench: answers
 * CreateMultipartUpload, UploadPart, CompleteMultipartUpload, PutObject and
 * AbortMultipartUpload on loopback, draining every body and counting its
 * bytes, checking nothing (no signature, no checksum). s3rver hashes and
 * rewrites whole objects and would dominate any timing; this measures the
 * clients. `GET /__bytes` answers the bytes of parts and objects received
 * since the last such request.
 *
 *   node dist/bench/infra/s3-sink.js    (prints {"port": N} on stdout)
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

let bytes = 0;
let uploads = 0;

const server = createServer((request, response) => {
  const url = new URL(request.url!, 'http://sink');
  if (url.pathname === '/__bytes') {
    response.end(String(bytes));
    bytes = 0;
    return;
  }
  let size = 0;
  request.on('data', (chunk: Buffer) => (size += chunk.length));
  request.on('end', () => {
    const { searchParams: query } = url;
    response.setHeader('content-type', 'application/xml');
    if (request.method === 'POST' && query.has('uploads')) {
      response.end(
        `<?xml version="1.0" encoding="UTF-8"?><InitiateMultipartUploadResult><Bucket>b</Bucket><Key>k</Key><UploadId>upload-${++uploads}</UploadId></InitiateMultipartUploadResult>`,
      );
    } else if (request.method === 'PUT') {
      bytes += size;
      response.setHeader('etag', `"${query.get('partNumber') ?? 'object'}-${size}"`);
      response.end();
    } else if (request.method === 'POST' && query.has('uploadId')) {
      response.end(
        '<?xml version="1.0" encoding="UTF-8"?><CompleteMultipartUploadResult><Bucket>b</Bucket><Key>k</Key><ETag>"done"</ETag></CompleteMultipartUploadResult>',
      );
    } else if (request.method === 'DELETE') {
      response.writeHead(204).end();
    } else {
      response.writeHead(400).end('<Error><Code>NotImplemented</Code></Error>');
    }
  });
});
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => process.stdout.write(`${JSON.stringify({ port: (server.address() as AddressInfo).port })}\n`));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
