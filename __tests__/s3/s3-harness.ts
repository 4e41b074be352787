/**
 * An S3 server nobody here wrote, and a witness in front of it.
 *
 * `startS3()` runs s3rver (npm, MIT) on 127.0.0.1, port 0, in a fresh temp
 * directory with one bucket, and a recording proxy before it. s3rver checks
 * no SigV4 signature and no `x-amz-checksum-*`, so the proxy does, for every
 * request: it recomputes the signature with the signer from the known keys,
 * and checks `x-amz-content-sha256` and each checksum header against the
 * body it received. What it finds wrong is listed in `problems`. A test may
 * also make it answer a request itself (`answer`), to play an S3 that
 * refuses a part. `object(key)` reads an object back with the AWS SDK.
 */
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { createRequire } from 'node:module';
import { GetObjectCommand, HeadObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { SignatureV4 } from '@smithy/signature-v4';
import { NodeSha256 } from '../../lib/modes/s3/signer.js';

const require = createRequire(import.meta.url);
const S3rver = require('s3rver') as new (options: object) => { run(): Promise<AddressInfo>; close(): Promise<void> };
const { crc32c } = require('@node-rs/crc32') as { crc32c: (input: Uint8Array) => number };

export const BUCKET = 'bucket';
export const REGION = 'eu-west-1';
/** Keys nobody uses: the proxy knows them to check signatures; the tests look for them in errors. */
export const CREDENTIALS = { accessKeyId: 'AKIAEXAMPLEBHW000001', secretAccessKey: 'bhw-secret/key+0123456789abcdefSECRET' };

/** One request the proxy carried, as the client sent it. */
export interface SeenRequest {
  method: string;
  /** Path and query as sent. */
  url: string;
  query: Record<string, string>;
  headers: IncomingMessage['headers'];
  size: number;
  /** The SigV4 signature recomputed from the known keys matched. */
  signatureValid: boolean;
}

/** What the proxy answers instead of s3rver, when a test says so: `undefined` forwards. */
export type Answer = (request: SeenRequest) => { status: number; body: string } | undefined;

export interface S3Fixture {
  /** The proxy's origin: `http://127.0.0.1:PORT`. */
  endpoint: string;
  /** s3rver's own origin (for a fault proxy in between). */
  serverEndpoint: string;
  /** `http://…/bucket/key` through the proxy. */
  url(key: string, endpoint?: string): string;
  requests: SeenRequest[];
  /** What was wrong with a request: a bad signature, a payload hash or a checksum that does not match the body. */
  problems: string[];
  answer: Answer | undefined;
  /** Requests this says yes to are never answered (until `close()`): a part S3 is still taking when the writer is killed. */
  hold: ((request: SeenRequest) => boolean) | undefined;
  /** The object's bytes, read with the AWS SDK's GetObject; undefined when there is none. */
  object(key: string): Promise<Buffer | undefined>;
  close(): Promise<void>;
}

export async function startS3(): Promise<S3Fixture> {
  const directory = await mkdtemp(join(tmpdir(), 'bhw-s3rver-'));
  const s3rver = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory, configureBuckets: [{ name: BUCKET }] });
  const { port } = await s3rver.run();
  const serverEndpoint = `http://127.0.0.1:${port}`;
  const signer = new SignatureV4({ service: 's3', region: REGION, credentials: CREDENTIALS, sha256: NodeSha256, uriEscapePath: false, applyChecksum: false });
  const client = new S3Client({
    endpoint: serverEndpoint,
    region: REGION,
    forcePathStyle: true,
    credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
  });

  const fixture: S3Fixture = {
    endpoint: '',
    serverEndpoint,
    url: (key, endpoint = fixture.endpoint) => `${endpoint}/${BUCKET}/${key}`,
    requests: [],
    problems: [],
    answer: undefined,
    hold: undefined,
    async object(key) {
      try {
        await client.send(new HeadObjectCommand({ Bucket: BUCKET, Key: key }));
      } catch {
        return undefined;
      }
      const result = await client.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
      return Buffer.from(await result.Body!.transformToByteArray());
    },
    async close() {
      proxy.closeAllConnections();
      proxy.close();
      await once(proxy, 'close');
      client.destroy();
      await s3rver.close();
      await rm(directory, { recursive: true, force: true });
    },
  };

  const proxy: Server = createServer((req, res) => void witness(req, res));
  async function witness(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    try {
      for await (const chunk of req) chunks.push(chunk as Buffer);
    } catch {
      return; // the client cut the request (a fault proxy in front): s3rver never sees it
    }
    const body = Buffer.concat(chunks);
    const seen = await inspect(req, body, signer, fixture.problems);
    fixture.requests.push(seen);
    if (fixture.hold?.(seen)) return;
    const own = fixture.answer?.(seen);
    if (own) {
      res.writeHead(own.status, { 'content-type': 'application/xml' }).end(own.body);
      return;
    }
    // s3rver knows one key id (S3RVER) and checks no SigV4 signature: the signature was checked above.
    const authorization = req.headers.authorization?.replace(/Credential=[^/]+\//, 'Credential=S3RVER/');
    const headers = { ...req.headers, ...(authorization ? { authorization } : {}), 'content-length': String(body.length) };
    const forwarded = httpRequest(`${serverEndpoint}${req.url}`, { method: req.method, headers });
    forwarded.on('response', (answer) => {
      res.writeHead(answer.statusCode!, answer.headers);
      answer.pipe(res);
    });
    forwarded.on('error', () => res.destroy());
    forwarded.end(body);
  }
  proxy.listen(0, '127.0.0.1');
  await once(proxy, 'listening');
  fixture.endpoint = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
  return fixture;
}

/** The request, its signature recomputed and its body checked against the hashes it declares. */
async function inspect(req: IncomingMessage, body: Buffer, signer: SignatureV4, problems: string[]): Promise<SeenRequest> {
  const [path = '/', search = ''] = req.url!.split('?');
  const query: Record<string, string> = {};
  for (const pair of search.split('&').filter(Boolean)) {
    const [name, value = ''] = pair.split('=');
    query[decodeURIComponent(name!)] = decodeURIComponent(value);
  }
  const where = `${req.method} ${req.url}`;
  const authorization = String(req.headers.authorization ?? '');
  const signedNames = /SignedHeaders=([^,]+)/.exec(authorization)?.[1]?.split(';') ?? [];
  const headers: Record<string, string> = {};
  for (const name of signedNames) if (name !== 'x-amz-date') headers[name] = String(req.headers[name] ?? '');
  const date = String(req.headers['x-amz-date'] ?? '');
  const signingDate = new Date(date.replace(/^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/, '$1-$2-$3T$4:$5:$6Z'));
  const [hostname, port] = String(req.headers.host).split(':');
  const expected = await signer.sign(
    { method: req.method!, protocol: 'http:', hostname: hostname!, port: Number(port), path, query, headers },
    { signingDate },
  );
  const signatureValid = authorization !== '' && expected.headers.authorization === authorization;
  if (!signatureValid) problems.push(`${where}: signature does not match`);
  for (const required of ['host', 'x-amz-date', 'x-amz-content-sha256']) {
    if (!signedNames.includes(required)) problems.push(`${where}: ${required} not signed`);
  }
  const payloadHash = String(req.headers['x-amz-content-sha256'] ?? '');
  if (payloadHash !== 'UNSIGNED-PAYLOAD' && payloadHash !== createHash('sha256').update(body).digest('hex')) {
    problems.push(`${where}: x-amz-content-sha256 does not match the body`);
  }
  const checks: Record<string, (bytes: Buffer) => string> = {
    'x-amz-checksum-crc32': (bytes) => uint32(crc32(bytes)),
    'x-amz-checksum-crc32c': (bytes) => uint32(crc32c(bytes)),
    'x-amz-checksum-sha256': (bytes) => createHash('sha256').update(bytes).digest('base64'),
  };
  for (const [name, compute] of Object.entries(checks)) {
    const value = req.headers[name];
    if (value === undefined) continue;
    if (!signedNames.includes(name)) problems.push(`${where}: ${name} not signed`);
    if (value !== compute(body)) problems.push(`${where}: ${name} does not match the body`);
  }
  return { method: req.method!, url: req.url!, query, headers: req.headers, size: body.length, signatureValid };
}

function uint32(value: number): string {
  const bytes = Buffer.alloc(4);
  bytes.writeUInt32BE(value >>> 0);
  return bytes.toString('base64');
}

/** Seeded bytes: the same `size` and `seed` give the same content. */
export function content(size: number, seed = 1): Buffer {
  const words = new Uint32Array(Math.ceil(size / 4));
  let state = seed >>> 0 || 1;
  for (let i = 0; i < words.length; i++) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    words[i] = state >>> 0;
  }
  return Buffer.from(words.buffer, 0, size);
}

export function sha256(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}
