import type { UploadResponse } from '../../types.js';

/**
 * What a multipart protocol (S3's multipart upload, Azure's block blob)
 * tells the parts transport. The transport owns the order, the concurrency,
 * the retries, the resume state and the abort; the protocol only makes
 * requests. Each method is ONE attempt: a failure throws `AttemptFailed`
 * (lib/http/attempt.ts does that), and the transport's retry loop decides.
 */
export interface PartsProtocol {
  /** How the protocol names itself in messages: `'S3 multipart upload'`. */
  readonly name: string;
  /** The most parts one upload may have (S3: 10 000; Azure: 50 000 blocks). */
  readonly maxParts: number;
  /** Starts an upload (S3: CreateMultipartUpload): the id later requests name. */
  create(signal: AbortSignal): Promise<string>;
  /** Stores part `number` (1-based) of upload `uploadId`. */
  uploadPart(uploadId: string, number: number, bytes: Buffer, signal: AbortSignal): Promise<StoredPart>;
  /** Makes the object out of `parts`, in order (S3: CompleteMultipartUpload; Azure: Put Block List). */
  complete(uploadId: string, parts: readonly StoredPart[], signal: AbortSignal): Promise<UploadResponse>;
  /** A body smaller than one part: the whole object in one request (S3: PutObject; Azure: Put Blob). */
  putWhole(bytes: Buffer, signal: AbortSignal): Promise<UploadResponse>;
  /** Drops the stored parts (S3: AbortMultipartUpload); Azure's uncommitted blocks expire by themselves. */
  abort(uploadId: string): Promise<void>;
  /** Where the server can say which parts it holds (S3: ListParts; Azure: Get Block List): a resumed upload checks its state file against it. */
  listParts?(uploadId: string, signal: AbortSignal): Promise<StoredPart[] | undefined>;
}

/** One part the server holds: what completing, and resuming in a later process, need. */
export interface StoredPart {
  /** 1-based position in the object. */
  number: number;
  /** Bytes in the part. */
  size: number;
  /** The server's name for the part (S3: its ETag; Azure: the block id). */
  etag: string;
  /** The part's checksum as sent (S3: `x-amz-checksum-*`; Azure: `Content-MD5` or `x-ms-content-crc64`), base64. */
  checksum?: string;
}
