import { createHash, createHmac, type Hash, type Hmac } from 'node:crypto';
import type { SignatureV4 } from '@smithy/signature-v4';
import { loadOptional } from '../../optional-package.js';
import { encodeSegment } from './target.js';

/**
 * SigV4 for S3 requests. `@smithy/signature-v4` is the signer inside the AWS
 * SDK v3: maintained by AWS, it follows S3's canonicalisation (no double
 * path escaping, the session token, the payload-hash header) and is used by
 * every SDK call, where `aws4` is a one-person package last released years
 * ago. It takes its SHA-256 from the caller: node:crypto's below, so no
 * browser crypto shim comes along.
 */

/** `@smithy/types`' hash interface over node:crypto: a plain SHA-256, or an HMAC-SHA-256 when given a key. */
export class NodeSha256 {
  readonly #secret: Uint8Array | string | undefined;
  #hash: Hash | Hmac;

  constructor(secret?: Uint8Array | ArrayBuffer | ArrayBufferView | string) {
    this.#secret = secret === undefined || typeof secret === 'string' ? secret : bytesOf(secret);
    this.#hash = this.#fresh();
  }

  update(data: Uint8Array | ArrayBuffer | ArrayBufferView | string): void {
    this.#hash.update(typeof data === 'string' ? Buffer.from(data, 'utf8') : bytesOf(data));
  }

  digest(): Promise<Uint8Array> {
    return Promise.resolve(this.#hash.digest());
  }

  reset(): void {
    this.#hash = this.#fresh();
  }

  #fresh(): Hash | Hmac {
    return this.#secret === undefined ? createHash('sha256') : createHmac('sha256', this.#secret);
  }
}

function bytesOf(data: Uint8Array | ArrayBuffer | ArrayBufferView): Uint8Array {
  if (data instanceof Uint8Array) return data;
  return ArrayBuffer.isView(data) ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength) : new Uint8Array(data);
}

export interface AwsCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string | undefined;
}

/** One request to sign: the body's hash is already in `x-amz-content-sha256`. */
export interface SignableRequest {
  method: string;
  url: URL;
  query: Readonly<Record<string, string>>;
  headers: Readonly<Record<string, string>>;
}

/**
 * A signer for S3 in `region`, asking `credentials` for each request, made
 * on the first signature. Its module is loaded only then: imported with the
 * library, it made every upload of every mode slower (the Writable fed
 * 1 MiB reads took twice as long with it merely loaded, measured), so only
 * an s3 upload pays for it. It is an optional peer dependency
 * (lib/optional-package.ts): the options refuse the mode without it.
 */
export function s3Signer(region: string, credentials: () => Promise<AwsCredentials>): () => Promise<SignatureV4> {
  let signer: Promise<SignatureV4> | undefined;
  return () =>
    (signer ??= Promise.resolve().then(() => {
      const { SignatureV4 } = loadOptional<typeof import('@smithy/signature-v4')>('@smithy/signature-v4');
      return new SignatureV4({ service: 's3', region, credentials, sha256: NodeSha256, uriEscapePath: false, applyChecksum: false });
    }));
}

/** The request's headers with `x-amz-date`, the session token and `Authorization` added. */
export async function signedHeaders(signer: SignatureV4, request: SignableRequest, signingDate?: Date): Promise<Record<string, string>> {
  const { url } = request;
  const signed = await signer.sign(
    {
      method: request.method,
      protocol: url.protocol,
      hostname: url.hostname,
      ...(url.port ? { port: Number(url.port) } : {}),
      path: url.pathname,
      query: { ...request.query },
      headers: { ...request.headers, host: url.host },
    },
    signingDate ? { signingDate } : {},
  );
  const { host: _host, ...headers } = signed.headers;
  return headers;
}

/** The URL a request goes to: `url` with `query` encoded exactly as the signature canonicalised it. */
export function withSignedQuery(url: URL, query: Readonly<Record<string, string>>): URL {
  const target = new URL(url.href);
  target.search = Object.entries(query)
    .map(([name, value]) => `${encodeSegment(name)}=${encodeSegment(value)}`)
    .join('&');
  return target;
}
