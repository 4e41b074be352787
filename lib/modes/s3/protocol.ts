import type { Response as GotResponse } from 'got';
import type { SignatureV4 } from '@smithy/signature-v4';
import { ProtocolError } from '../../errors.js';
import { attempt, type AttemptContext } from '../../http/attempt.js';
import { learnSecrets } from '../../http/redact.js';
import { summarizeResponse, toUploadResponse } from '../../http/responses.js';
import { AttemptFailed } from '../../http/retry-loop.js';
import { saysUnsupported } from '../../http/status.js';
import type { S3Credentials, UploadResponse } from '../../types.js';
import type { UploadContext } from '../../upload-context.js';
import type { PartsProtocol, StoredPart } from '../parts/protocol.js';
import { CHECKSUM_NAMES, protectBody } from './checksum.js';
import { checkCredentials, type S3Options } from './options.js';
import { s3Signer, signedHeaders, withSignedQuery } from './signer.js';
import { elements, elementText, escapeText, rootElement } from './xml.js';

/** S3 numbers parts 1 to 10 000. */
const MAX_PARTS = 10_000;
/** A provider's temporary credentials are asked again this long before they expire: a part may take a while. */
const REFRESH_BEFORE_MS = 5 * 60 * 1000;
/** The codes of an `<Error>` S3 may send with a 200 to Complete that say "try again" (AWS SDKs retry them). */
const RETRIED_ERROR_CODES = ['InternalError', 'SlowDown', 'ServiceUnavailable'];

const EMPTY = Buffer.alloc(0);

interface S3Request {
  method: 'GET' | 'PUT' | 'POST' | 'DELETE';
  query?: Record<string, string>;
  headers?: Record<string, string>;
  body?: Buffer;
  /** Parts and whole objects carry the checksum S3 verifies; the small XML calls are signed by their SHA-256. */
  checksummed?: boolean;
  signal?: AbortSignal | undefined;
}

/**
 * S3's multipart upload (CreateMultipartUpload, UploadPart,
 * CompleteMultipartUpload, AbortMultipartUpload, ListParts) and PutObject,
 * one signed attempt per call: the parts transport owns the order, the
 * retries and the state.
 */
export class S3Protocol implements PartsProtocol {
  readonly name = 'S3 multipart upload';
  readonly maxParts = MAX_PARTS;
  readonly #options: S3Options;
  readonly #context: UploadContext;
  readonly #attemptContext: AttemptContext;
  /** The SigV4 signer, made (and its module loaded) on the first request. */
  readonly #signer: () => Promise<SignatureV4>;
  /** A provider's answer, kept until shortly before it expires. */
  #provided?: Promise<S3Credentials>;

  constructor(options: S3Options, context: UploadContext, attemptContext: AttemptContext) {
    this.#options = options;
    this.#context = context;
    this.#attemptContext = attemptContext;
    this.#signer = s3Signer(options.s3.region, () => this.#credentials());
  }

  async create(signal: AbortSignal): Promise<string> {
    const { checksum } = this.#options.s3;
    const headers = { ...this.#objectHeaders(), ...(checksum ? { 'x-amz-checksum-algorithm': CHECKSUM_NAMES[checksum] } : {}) };
    const response = await this.#send({ method: 'POST', query: { uploads: '' }, headers, signal });
    const xml = this.#document(response, 'InitiateMultipartUploadResult', 'CreateMultipartUpload');
    const uploadId = elementText(xml, 'UploadId');
    if (!uploadId) throw this.#protocolError('CreateMultipartUpload answered without an UploadId');
    return uploadId;
  }

  async uploadPart(uploadId: string, number: number, bytes: Buffer, signal: AbortSignal): Promise<StoredPart> {
    const query = { partNumber: String(number), uploadId };
    const { response, checksum } = await this.#sendBody({ method: 'PUT', query, body: bytes, signal });
    const etag = response.headers.etag;
    if (!etag) throw this.#protocolError(`UploadPart ${number} answered without an ETag`);
    return { number, size: bytes.length, etag, ...(checksum ? { checksum } : {}) };
  }

  async complete(uploadId: string, parts: readonly StoredPart[], signal: AbortSignal): Promise<UploadResponse> {
    const body = Buffer.from(completeDocument(parts, this.#options.s3.checksum));
    const response = await this.#send({ method: 'POST', query: { uploadId }, headers: { 'content-type': 'application/xml' }, body, signal });
    // S3 answers 200 at once and may still fail the assembly: the body then is an <Error>.
    this.#document(response, 'CompleteMultipartUploadResult', 'CompleteMultipartUpload');
    return toUploadResponse(response);
  }

  async putWhole(bytes: Buffer, signal: AbortSignal): Promise<UploadResponse> {
    const { response } = await this.#sendBody({ method: 'PUT', headers: this.#objectHeaders(), body: bytes, signal });
    return toUploadResponse(response);
  }

  async abort(uploadId: string): Promise<void> {
    await this.#send({ method: 'DELETE', query: { uploadId } });
  }

  async listParts(uploadId: string, signal: AbortSignal): Promise<StoredPart[] | undefined> {
    const parts: StoredPart[] = [];
    let marker = '0';
    for (;;) {
      let response: GotResponse<Buffer>;
      try {
        response = await this.#send({ method: 'GET', query: { uploadId, 'max-parts': '1000', 'part-number-marker': marker }, signal });
      } catch (error) {
        // A server without ListParts (s3rver: 405; others 501): the state file is all there is.
        if (error instanceof AttemptFailed && saysUnsupported(error.attempt.statusCode)) return undefined;
        throw error;
      }
      const xml = this.#document(response, 'ListPartsResult', 'ListParts');
      for (const part of elements(xml, 'Part')) parts.push(this.#listedPart(part));
      const next = elementText(xml, 'NextPartNumberMarker');
      if (elementText(xml, 'IsTruncated') !== 'true' || !next || next === marker) return parts;
      marker = next;
    }
  }

  #listedPart(xml: string): StoredPart {
    const number = Number(elementText(xml, 'PartNumber'));
    const size = Number(elementText(xml, 'Size'));
    const etag = elementText(xml, 'ETag');
    if (!Number.isSafeInteger(number) || number < 1 || !Number.isSafeInteger(size) || size < 0 || !etag) {
      throw this.#protocolError('ListParts answered a part without a valid PartNumber, Size and ETag');
    }
    const { checksum } = this.#options.s3;
    const value = checksum ? elementText(xml, `Checksum${CHECKSUM_NAMES[checksum]}`) : undefined;
    return { number, size, etag, ...(value ? { checksum: value } : {}) };
  }

  /** The headers that describe the object: sent when it is created (PutObject, CreateMultipartUpload). */
  #objectHeaders(): Record<string, string> {
    const { contentType, metadata } = this.#options.s3;
    const headers: Record<string, string> = contentType ? { 'content-type': contentType } : {};
    for (const [name, value] of Object.entries(metadata)) headers[`x-amz-meta-${name.toLowerCase()}`] = value;
    return headers;
  }

  /** A part or a whole object: its checksum (and payload hash) computed once, kept for Complete and the state file. */
  async #sendBody(request: S3Request): Promise<{ response: GotResponse<Buffer>; checksum?: string }> {
    const protection = protectBody(request.body!, this.#options.s3.checksum);
    const headers: Record<string, string> = { ...request.headers, 'x-amz-content-sha256': protection.payloadHash };
    if (protection.checksum) headers[protection.checksum.header] = protection.checksum.value;
    const response = await this.#send({ ...request, headers, checksummed: true });
    return protection.checksum ? { response, checksum: protection.checksum.value } : { response };
  }

  /** One signed attempt through the upload's got instance: a 2xx, or `AttemptFailed`. */
  async #send(request: S3Request): Promise<GotResponse<Buffer>> {
    const { method, query = {}, body, signal } = request;
    const url = withSignedQuery(this.#options.s3.target.url, query);
    const own = { ...request.headers };
    if (!request.checksummed) own['x-amz-content-sha256'] = protectBody(body ?? EMPTY, false).payloadHash;
    const headers = await signedHeaders(await this.#signer(), {
      method,
      url: this.#options.s3.target.url,
      query,
      headers: { ...lowerCased(this.#options.headers), ...own },
    });
    // An empty body rather than none: got then sends `Content-Length: 0`, never a chunked POST S3 may refuse.
    return attempt(this.#context.got, { method, url, headers, body: body ?? (method === 'GET' ? undefined : EMPTY), signal }, this.#attemptContext);
  }

  /** The response's XML when its root is `expected`; an `<Error>` (a 200 can carry one) or anything else fails the attempt. */
  #document(response: GotResponse<Buffer>, expected: string, call: string): string {
    const xml = response.rawBody.toString('utf8');
    const root = rootElement(xml);
    if (root === expected) return xml;
    if (root === 'Error') {
      const code = elementText(xml, 'Code') ?? 'an unnamed error';
      const summary = summarizeResponse({ statusCode: response.statusCode, body: xml }, { credentials: this.#context.credentials });
      const error = this.#protocolError(`${call} answered ${response.statusCode} with an S3 error, ${code}: ${summary.body}`);
      throw new AttemptFailed({ error, retryable: RETRIED_ERROR_CODES.includes(code) });
    }
    throw this.#protocolError(`${call} answered ${response.statusCode} without the <${expected}> document S3 sends`);
  }

  #protocolError(message: string): ProtocolError {
    return new ProtocolError(message, this.#attemptContext.progress(), this.#attemptContext.position?.());
  }

  /** The credentials for the next signature; their secret parts join what no error may repeat. */
  async #credentials(): Promise<S3Credentials> {
    const source = this.#options.s3.credentials;
    let credentials: S3Credentials;
    if (typeof source === 'function') {
      const cached = this.#provided && (await this.#provided.catch(() => undefined));
      if (!cached || expiresSoon(cached)) this.#provided = Promise.resolve(source()).then(checkCredentials);
      credentials = await this.#provided!;
    } else {
      credentials = source;
    }
    learnSecrets(this.#context.credentials, [credentials.secretAccessKey, credentials.sessionToken ?? '']);
    return credentials;
  }
}

/** The CompleteMultipartUpload body: every part's number, ETag and (when sent) checksum, in order. */
export function completeDocument(parts: readonly StoredPart[], checksum: S3Options['s3']['checksum']): string {
  const element = checksum ? `Checksum${CHECKSUM_NAMES[checksum]}` : undefined;
  const body = parts
    .map((part) => {
      const sum = element && part.checksum ? `<${element}>${escapeText(part.checksum)}</${element}>` : '';
      return `<Part><PartNumber>${part.number}</PartNumber><ETag>${escapeText(part.etag)}</ETag>${sum}</Part>`;
    })
    .join('');
  return `<?xml version="1.0" encoding="UTF-8"?><CompleteMultipartUpload xmlns="http://s3.amazonaws.com/doc/2006-03-01/">${body}</CompleteMultipartUpload>`;
}

function expiresSoon(credentials: S3Credentials): boolean {
  return credentials.expiration !== undefined && credentials.expiration.getTime() - Date.now() < REFRESH_BEFORE_MS;
}

/** Header names in lower case, so the caller's headers and ours are one set when signed. */
function lowerCased(headers: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).map(([name, value]) => [name.toLowerCase(), value]));
}
