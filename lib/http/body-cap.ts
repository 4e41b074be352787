/**
 * How much of a response body the library keeps, in bytes, wherever it keeps
 * one: a huge response must not break the memory bound, and an error or a
 * file written beside the spool needs only its start. A cut may fall inside
 * a UTF-8 character; the text then ends in U+FFFD.
 */

/** At most this much of a response body is kept on `upload.response.body`. */
export const RESPONSE_BODY_LIMIT = 1024 * 1024;

/** At most this much of a response body is kept on an error (and beside a batch the spool set aside). */
export const BODY_SNIPPET_LIMIT = 4096;

/** Collects a body that arrives in chunks, keeping at most `limit` bytes of it. */
export class BodyCollector {
  readonly #chunks: Buffer[] = [];
  #kept = 0;
  readonly #limit: number;

  constructor(limit = RESPONSE_BODY_LIMIT) {
    this.#limit = limit;
  }

  add(chunk: Buffer): void {
    if (this.#kept >= this.#limit) return;
    const part = chunk.length > this.#limit - this.#kept ? chunk.subarray(0, this.#limit - this.#kept) : chunk;
    this.#chunks.push(part);
    this.#kept += part.length;
  }

  text(): string {
    return Buffer.concat(this.#chunks).toString('utf8');
  }
}

/** The first `limit` bytes of a whole body, as text: a text within the limit comes back as it is. */
export function capBody(body: string | Buffer, limit: number): string {
  if (typeof body === 'string') {
    if (Buffer.byteLength(body) <= limit) return body;
    body = Buffer.from(body);
  }
  return (body.length > limit ? body.subarray(0, limit) : body).toString('utf8');
}
