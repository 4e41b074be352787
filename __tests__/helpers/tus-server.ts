import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { createServer, type IncomingHttpHeaders, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileStore } from '@tus/file-store';
import { EVENTS, Server as TusServer } from '@tus/server';

/** What the file store holds for one upload. */
export interface StoredUpload {
  /** The bytes stored so far: the server's offset is their length. */
  bytes: Buffer;
  sha256: string;
  offset: number;
  /** `Upload-Length`, once declared. */
  length?: number;
  /** Metadata as the server decoded it from `Upload-Metadata`. */
  metadata?: Record<string, string | null>;
}

export interface TusTestServer {
  /** The creation endpoint, e.g. `http://127.0.0.1:PORT/files`. */
  url: string;
  /** The file store's directory (removed by `close()`). */
  dir: string;
  tus: TusServer;
  http: HttpServer;
  /** Every request as it arrived (method, path, headers), in order. */
  requests: Array<{ method: string; url: string; headers: IncomingHttpHeaders }>;
  /** Upload ids created so far, in order. */
  created: string[];
  /** Upload ids the server terminated (DELETE). */
  terminated: string[];
  /** What the store holds for an upload URL (or id). */
  stored(uploadUrlOrId: string): Promise<StoredUpload>;
  /** Whether the store still has the upload. */
  exists(uploadUrlOrId: string): Promise<boolean>;
  close(): Promise<void>;
}

/**
 * A real `@tus/server` with `@tus/file-store` on 127.0.0.1, port 0, storing in
 * a fresh temp directory. Locations are absolute and built from the request's
 * Host, so uploads made through a proxy point back at the proxy; pass
 * `relativeLocation` to get `/files/<id>` instead.
 */
export async function startTusServer({ relativeLocation = false }: { relativeLocation?: boolean } = {}): Promise<TusTestServer> {
  const dir = await mkdtemp(join(tmpdir(), 'bhw-tus-'));
  const tus = new TusServer({
    path: '/files',
    datastore: new FileStore({ directory: dir }),
    relativeLocation,
    // After a HEAD asks a cut PATCH for its lock, the server aborts that PATCH
    // lockDrainTimeout ms later with a timer of its own: the default 3 s would
    // keep jest alive after the test closed everything.
    lockDrainTimeout: 100,
  });
  const created: string[] = [];
  const terminated: string[] = [];
  tus.on(EVENTS.POST_CREATE, (_request, upload) => created.push(upload.id));
  tus.on(EVENTS.POST_TERMINATE, (_request, _response, id) => terminated.push(id));
  const requests: TusTestServer['requests'] = [];
  const http = createServer((request, response) => {
    requests.push({ method: request.method ?? '', url: request.url ?? '', headers: request.headers });
    void tus.handle(request, response);
  });
  http.listen(0, '127.0.0.1');
  await once(http, 'listening');
  const url = `http://127.0.0.1:${(http.address() as AddressInfo).port}/files`;
  const idOf = (uploadUrlOrId: string): string => uploadUrlOrId.split('/').filter(Boolean).at(-1)!;

  return {
    url,
    dir,
    tus,
    http,
    requests,
    created,
    terminated,
    async stored(uploadUrlOrId) {
      const id = idOf(uploadUrlOrId);
      const bytes = await readFile(join(dir, id));
      const info = JSON.parse(await readFile(join(dir, `${id}.json`), 'utf8')) as { size?: number; metadata?: Record<string, string | null> };
      const upload: StoredUpload = { bytes, sha256: createHash('sha256').update(bytes).digest('hex'), offset: bytes.length };
      if (typeof info.size === 'number') upload.length = info.size;
      if (info.metadata) upload.metadata = info.metadata;
      return upload;
    },
    async exists(uploadUrlOrId) {
      return stat(join(dir, idOf(uploadUrlOrId))).then(
        () => true,
        () => false,
      );
    },
    async close() {
      http.closeAllConnections();
      http.close();
      await once(http, 'close');
      await rm(dir, { recursive: true, force: true });
    },
  };
}
