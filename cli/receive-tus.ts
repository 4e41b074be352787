import { createReadStream } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { relative, join, dirname } from 'node:path';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { printable } from './printable.js';
import { verifyingChecksums } from './receive-tus-checksum.js';
import { Sha256Transform } from './sha256-transform.js';

/** The creation endpoint of `bhw receive`: `POST /tus`, uploads at `/tus/<id>`. */
export const TUS_PATH = '/tus';

/** What `bhw receive` says at start, and answers tus requests with (501), when the tus packages are not installed. */
export const TUS_MISSING = 'tus uploads need @tus/server and @tus/file-store, which are not installed: npm install @tus/server @tus/file-store';

export type TusHandler = (request: IncomingMessage, response: ServerResponse) => Promise<void>;

/**
 * A tus 1.0 endpoint through @tus/server with @tus/file-store, storing under
 * `directory` (`<id>` with its metadata in `<id>.json`), refusing uploads
 * larger than `maxBytes` with 413 (a declared Upload-Length at creation, a
 * deferred one as its bytes arrive), verifying `Upload-Checksum` (sha256,
 * sha512) on each PATCH that carries one. Both packages are
 * loaded on demand so `bhw` runs without them: undefined when they are missing.
 */
export async function loadTusHandler(directory: string, maxBytes: number, log: (line: string) => void): Promise<TusHandler | undefined> {
  let tus: typeof import('@tus/server');
  let store: typeof import('@tus/file-store');
  try {
    // One after the other: both load @tus/utils, and jest's ESM loader fails
    // to link a module that two concurrent dynamic imports both reach.
    tus = await import('@tus/server');
    store = await import('@tus/file-store');
  } catch {
    return undefined;
  }
  const datastore = new store.FileStore({ directory });
  // Checked in front of the server (receive-tus-checksum.ts): listed so clients send Upload-Checksum.
  datastore.extensions.push('checksum');
  const server = new tus.Server({
    path: TUS_PATH,
    datastore,
    maxSize: maxBytes,
    // How long a HEAD waits for a cut PATCH to give up the upload's lock; the
    // default 3 s would also hold the process open that long after close().
    lockDrainTimeout: 100,
    // Behind a TLS-terminating proxy, Locations follow X-Forwarded-Proto/-Host (else http://, which clients refuse).
    respectForwardedHeaders: true,
    // A browser client may send it (CORS preflight).
    allowedHeaders: ['Upload-Checksum'],
    // The last PATCH is answered like the other uploads: 200 with the digest
    // of the stored file (tus clients accept any 2xx with the right Upload-Offset).
    onUploadFinish: async (_request, upload) => {
      const path = join(directory, upload.id);
      const { bytes, sha256 } = await digestFile(path);
      const file = relative(dirname(directory), path);
      // The filename is the client's, from Upload-Metadata: any bytes at all.
      const name = upload.metadata?.filename ? ` (${printable(upload.metadata.filename)})` : '';
      log(`tus ${TUS_PATH}/${upload.id}${name}: ${bytes} bytes, sha256 ${sha256} -> ${file}`);
      return { status_code: 200, headers: { 'content-type': 'application/json' }, body: `${JSON.stringify({ bytes, sha256, file })}\n` };
    },
  });
  return verifyingChecksums(server, maxBytes);
}

async function digestFile(path: string): Promise<{ bytes: number; sha256: string }> {
  const hasher = new Sha256Transform();
  const discard = new Writable({ write: (_chunk, _encoding, callback) => callback() });
  await pipeline(createReadStream(path), hasher, discard);
  return { bytes: hasher.bytes, sha256: hasher.digest() };
}
