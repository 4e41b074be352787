import type { Response as GotResponse } from 'got';
import { attempt, type AttemptContext } from '../../http/attempt.js';
import { toUploadResponse } from '../../http/responses.js';
import { AttemptFailed } from '../../http/retry-loop.js';
import type { UploadResponse } from '../../types.js';
import type { UploadContext } from '../../upload-context.js';
import type { PartsProtocol, StoredPart } from '../parts/protocol.js';
import { blockId, blockNumber, newNonce } from './block-ids.js';
import { blockListXml, uncommittedBlocks } from './block-list.js';
import { blockChecksum, md5, type BlockChecksum } from './checksum.js';
import { MAX_BLOCKS, type AzureBlobOptions } from './options.js';

/** The Blob service version every request asks for: 4000 MiB blocks and Content-MD5 on Put Block. */
export const AZURE_STORAGE_VERSION = '2025-01-05';

/**
 * Azure block blobs (Put Block, Put Block List, Put Blob, Get Block List),
 * authorised by the SAS in the blob's URL. The upload id is a nonce made
 * here, not by the service: a block blob has no "create" step, and its
 * uncommitted blocks expire by themselves (7 days), so nothing is aborted.
 * Each block carries `Content-MD5` or `x-ms-content-crc64` (unless
 * `checksum: false`): the service refuses a block whose bytes changed on the
 * way (400 `Md5Mismatch` or `Crc64Mismatch`), and the retry engine resends it.
 */
export class AzureBlobProtocol implements PartsProtocol {
  readonly name = 'Azure block blob';
  readonly maxParts = MAX_BLOCKS;
  readonly #options: AzureBlobOptions;
  readonly #context: UploadContext;
  readonly #attemptContext: AttemptContext;

  constructor(options: AzureBlobOptions, context: UploadContext, attemptContext: AttemptContext) {
    this.#options = options;
    this.#context = context;
    this.#attemptContext = attemptContext;
  }

  create(): Promise<string> {
    return Promise.resolve(newNonce());
  }

  async uploadPart(nonce: string, number: number, bytes: Buffer, signal: AbortSignal): Promise<StoredPart> {
    const id = blockId(nonce, number);
    const checksum = await blockChecksum(bytes, this.#options.azureBlob.checksum);
    await this.#request('PUT', { comp: 'block', blockid: id }, checksumHeader(checksum), bytes, signal);
    return { number, size: bytes.length, etag: id, ...(checksum ? { checksum: checksum.value } : {}) };
  }

  async complete(_nonce: string, parts: readonly StoredPart[], signal: AbortSignal): Promise<UploadResponse> {
    const body = Buffer.from(blockListXml(parts.map((part) => part.etag)));
    const headers = { 'content-type': 'application/xml', 'content-md5': md5(body), ...this.#blobHeaders() };
    return toUploadResponse(await this.#request('PUT', { comp: 'blocklist' }, headers, body, signal));
  }

  async putWhole(bytes: Buffer, signal: AbortSignal): Promise<UploadResponse> {
    const checksum = await blockChecksum(bytes, this.#options.azureBlob.checksum);
    const headers = { 'x-ms-blob-type': 'BlockBlob', ...checksumHeader(checksum), ...this.#blobHeaders() };
    return toUploadResponse(await this.#request('PUT', {}, headers, bytes, signal));
  }

  /** Uncommitted blocks expire after 7 days: there is nothing to delete. */
  abort(): Promise<void> {
    return Promise.resolve();
  }

  /** The uncommitted blocks of this upload (by their nonce), as the service holds them; none when the blob does not exist yet. */
  async listParts(nonce: string, signal: AbortSignal): Promise<StoredPart[]> {
    let response: GotResponse<Buffer>;
    try {
      response = await this.#request('GET', { comp: 'blocklist', blocklisttype: 'uncommitted' }, {}, undefined, signal);
    } catch (error) {
      if (error instanceof AttemptFailed && error.attempt.statusCode === 404) return [];
      throw error;
    }
    const parts: StoredPart[] = [];
    for (const block of uncommittedBlocks(response.rawBody.toString('utf8'))) {
      const number = blockNumber(nonce, block.id);
      if (number !== undefined) parts.push({ number, size: block.size, etag: block.id });
    }
    return parts;
  }

  /** `x-ms-blob-content-type` and `x-ms-meta-*`: the blob's properties, set when it is committed. */
  #blobHeaders(): Record<string, string> {
    const { contentType, metadata } = this.#options.azureBlob;
    const headers: Record<string, string> = contentType === undefined ? {} : { 'x-ms-blob-content-type': contentType };
    for (const [name, value] of Object.entries(metadata)) headers[`x-ms-meta-${name}`] = value;
    return headers;
  }

  /** One attempt against the blob's URL (its SAS included), with `query` added. */
  #request(
    method: 'GET' | 'PUT',
    query: Record<string, string>,
    headers: Record<string, string>,
    body: Buffer | undefined,
    signal: AbortSignal,
  ): Promise<GotResponse<Buffer>> {
    const spec = {
      method,
      url: this.#options.url,
      query,
      headers: { ...this.#options.headers, 'x-ms-version': AZURE_STORAGE_VERSION, ...headers },
      body,
      signal,
    };
    return attempt(this.#context.got, spec, this.#attemptContext);
  }
}

function checksumHeader(checksum: BlockChecksum | undefined): Record<string, string> {
  return checksum ? { [checksum.header]: checksum.value } : {};
}
