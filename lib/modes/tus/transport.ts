import type { IncomingHttpHeaders } from 'node:http';
import type { Response as GotResponse } from 'got';
import { ContentLengthError, HttpStatusError, InsecureLocationError, ProtocolError, ResumeGapError } from '../../errors.js';
import type { TusOptions } from './options.js';
import type { UploadContext } from '../../upload-context.js';
import { attempt } from '../../http/attempt.js';
import { credentialsForOrigin, isSchemeDowngrade, learnSecrets, redactUrl, secretValues } from '../../http/redact.js';
import { toUploadResponse } from '../../http/responses.js';
import { AttemptFailed, retrying } from '../../http/retry-loop.js';
import { saysDigestMismatch } from '../../http/status.js';
import { publishRequestRetried } from '../../diagnostics.js';
import { failed, type SendInfo, type Transport, type TransportReports } from '../transport.js';
import { TUS_VERSION, readTusOffset } from './protocol.js';
import { checksumState, listedChecksums, uploadChecksum } from './checksum.js';
import type { ErrorPosition, TusChecksum, TusOffset, UploadResponse } from '../../types.js';

/**
 * tus 1.0 core + creation + creation-defer-length, and checksum with
 * `digest` when the server lists it. One buffer in flight, one
 * `PATCH` per buffer. After a failure the transport asks the server's offset
 * with `HEAD` and resends from there out of the buffer it still holds (a cut
 * PATCH usually leaves part of its bytes stored). `send()` resolves only when
 * the server's offset has passed the end of the buffer.
 *
 * Offsets inside are absolute (in the whole upload); the progress counters
 * are relative to this writable's first byte, which is `#base` when resuming.
 */
export class TusTransport implements Transport {
  readonly maxInFlight = 1;
  readonly keepsWritesWhole = false;
  readonly checksTotalLength = true;
  readonly #options: TusOptions;
  readonly #context: UploadContext;
  readonly #reports: TransportReports;
  readonly #metadata: string | undefined;
  #uploadUrl: URL | undefined;
  #opened: Promise<void> | undefined;
  /** Absolute offset of this writable's first byte: 0, or the server's offset when resuming. */
  #base = 0;
  /** The server's offset as it last told us. */
  #serverOffset = 0;
  /** The whole upload's length, when known before `end()`: `contentLength` or the server's `Upload-Length`. */
  #length: number | undefined;
  /** The upload's total, once the core said which send is the last (or `end()` came): fixes a deferred length. */
  #endedAt: number | undefined;
  /** The server knows the length (creation, a PATCH that declared it, or as `HEAD` reports). */
  #lengthDeclared = false;
  /** The send in flight, settled either way; `end()` waits for it. */
  #lastSend: Promise<void> = Promise.resolve();
  #lastResponse: UploadResponse | undefined;
  /** Bytes of this writable handed to the socket so far (relative to `#base`). */
  #sentTo = 0;
  /** The upload failed on our side: it stays on the server, to be resumed. */
  #failed = false;
  #aborted = false;
  #finished = false;
  /** With `digest`: whether PATCHes carry `Upload-Checksum`, learned before the first. */
  #checksum: TusChecksum | undefined;
  /** Aborted by `abort()`: the request in flight, or the wait before a retry, ends at once. */
  readonly #cancel = new AbortController();

  constructor(options: TusOptions, context: UploadContext, reports: TransportReports) {
    this.#options = options;
    this.#context = context;
    this.#reports = reports;
    // Checked at construction: a bad key is the caller's error, not the server's.
    this.#metadata = options.metadata;
    this.#length = options.contentLength;
  }

  send(bytes: Buffer, info: SendInfo): Promise<void> {
    const sent = this.#run(async () => {
      await this.#open();
      const start = this.#base + info.offset;
      const end = start + bytes.length;
      // The last send declares a deferred length itself, saving an empty final PATCH (tus §creation-defer-length).
      if (info.last) this.#endedAt = end;
      const length = this.#totalLength();
      if (length !== undefined && end > length) throw new ContentLengthError(length, end, this.#reports.progress());
      await this.#deliver(bytes, start);
    });
    this.#lastSend = sent;
    return sent;
  }

  end(totalBytes: number): Promise<UploadResponse | undefined> {
    return this.#run(async () => {
      await this.#open();
      await this.#lastSend;
      const total = this.#base + totalBytes;
      this.#endedAt = total;
      if (this.#length !== undefined && this.#length !== total) {
        // Resuming: the server (or contentLength) fixed a length these bytes do not reach.
        throw new ContentLengthError(this.#length, total, this.#reports.progress());
      }
      // Nothing to send unless the server still waits for the length (an
      // empty upload, or a last buffer sent before the core knew it was the last).
      await this.#deliver(Buffer.alloc(0), total);
      // #open() left a response (creation's or HEAD's), and every PATCH replaces it;
      // only a resume from a handed-over offset with nothing left to send has
      // none yet: the server's own word that it holds the whole upload.
      if (!this.#lastResponse) this.#checkWindow((await this.#retrying('HEAD', () => this.#head())).offset, total, total);
      this.#finished = true;
      return this.#lastResponse!;
    });
  }

  abort(): void {
    if (this.#aborted || this.#finished) return;
    this.#aborted = true;
    this.#cancel.abort();
    // Only a caller's abort terminates (tus §termination); after our own failure
    // the upload stays on the server so it can be resumed.
    if (this.#options.deleteOnAbort && this.#uploadUrl && !this.#failed) this.#terminate(this.#uploadUrl);
  }

  /** Runs one send/end; a failure goes to the core, once, by the one route. */
  #run<T>(operation: () => Promise<T>): Promise<T> {
    return failed(operation(), (error) => {
      if (this.#aborted || this.#failed) return;
      this.#failed = true;
      this.#reports.fail(error);
    });
  }

  /** Creates the upload (tus §creation), or learns where an existing one stands; with `digest`, whether the server checks it. Once. */
  #open(): Promise<void> {
    this.#opened ??= this.#start();
    return this.#opened;
  }

  async #start(): Promise<void> {
    const { uploadUrl, digest } = this.#options;
    const answer = uploadUrl ? await this.#resume(uploadUrl) : await this.#create();
    if (!digest) return;
    // The creation answer settles it when it lists the extensions; else one OPTIONS does (tus §OPTIONS).
    const listed = (answer && listedChecksums(answer)) ?? (await this.#askExtensions());
    this.#checksum = checksumState(digest, listed);
    this.#reports.checksum(this.#checksum);
  }

  /** The server's checksum algorithms from its OPTIONS answer; a server that refuses OPTIONS lists none. */
  async #askExtensions(): Promise<string[] | undefined> {
    try {
      const response = await this.#retrying('OPTIONS', () => this.#request('OPTIONS', this.#options.url, {}));
      return listedChecksums(response.headers);
    } catch (error) {
      if (error instanceof HttpStatusError) return undefined;
      throw error;
    }
  }

  /** Returns the creation answer's headers. */
  async #create(): Promise<IncomingHttpHeaders> {
    const headers: Record<string, string> = {};
    if (this.#length === undefined) headers['upload-defer-length'] = '1';
    else headers['upload-length'] = String(this.#length);
    if (this.#metadata !== undefined) headers['upload-metadata'] = this.#metadata;
    // A repeated POST may leave an empty upload behind on the server; that is
    // the price of not failing on the first hiccup.
    const response = await this.#retrying('POST', () => this.#request('POST', this.#options.url, headers));
    const location = response.headers.location;
    let url: URL | undefined;
    try {
      url = location ? new URL(location, this.#options.url) : undefined;
    } catch {
      url = undefined;
    }
    if (!url) throw new ProtocolError(`Creation answer ${response.statusCode} without a valid Location`, this.#reports.progress());
    // Checked before the URL is used or reported: not one PATCH in cleartext.
    if (isSchemeDowngrade(this.#options.url, url) && !this.#options.allowInsecureLocation) {
      throw new InsecureLocationError(redactUrl(url), this.#reports.progress());
    }
    this.#setUploadUrl(url);
    this.#lengthDeclared = this.#length !== undefined;
    this.#lastResponse = toUploadResponse(response);
    return response.headers;
  }

  async #resume(url: URL): Promise<undefined> {
    this.#setUploadUrl(url);
    // The caller (uploadFile, say) may have asked HEAD already to know where to
    // read from: one round trip is enough. Its offset is checked by the first
    // PATCH all the same (tus §PATCH: a wrong Upload-Offset is answered 409).
    const state = this.#options.resumeFrom ?? (await this.#retrying('HEAD', () => this.#head()));
    this.#base = state.offset;
    this.#serverOffset = state.offset;
    if (state.length !== undefined) {
      if (this.#length !== undefined && this.#length !== state.length) {
        throw new ProtocolError(
          `contentLength ${this.#length} differs from the Upload-Length ${state.length} the server holds for this upload`,
          this.#reports.progress(),
          this.#position(),
        );
      }
      this.#length = state.length;
      this.#lengthDeclared = true;
    }
    return undefined;
  }

  /**
   * Delivers `bytes`, the upload's bytes from `start` on: PATCH from the
   * server's offset, and after a failure HEAD then PATCH the rest, until the
   * server's offset is the end (and the length is declared, for the last one).
   */
  async #deliver(bytes: Buffer, start: number): Promise<void> {
    const end = start + bytes.length;
    this.#checkWindow(this.#serverOffset, start, end);
    let stale = false;
    await this.#retrying('PATCH', async () => {
      if (stale) {
        // Never resend blindly: a cut PATCH may have stored part of its bytes,
        // or declared the length (a repeated Upload-Length is refused).
        const state = await this.#head();
        this.#checkWindow(state.offset, start, end);
        if (state.length !== undefined) this.#lengthDeclared = true;
        this.#acknowledge(state.offset);
        stale = false;
      }
      while (this.#serverOffset < end || this.#declaresLength(end)) {
        stale = true;
        await this.#patch(bytes, start, end);
        stale = false;
      }
    });
  }

  /** One PATCH from the server's offset to `end` (tus §PATCH). */
  async #patch(bytes: Buffer, start: number, end: number): Promise<void> {
    const from = this.#serverOffset;
    const headers: Record<string, string> = {
      'upload-offset': String(from),
      'content-type': 'application/offset+octet-stream',
    };
    const declaring = this.#declaresLength(end);
    if (declaring) headers['upload-length'] = String(end);
    const body = bytes.subarray(from - start);
    if (this.#checksum?.verified) headers['upload-checksum'] = uploadChecksum(this.#checksum.algorithm, body);
    const response = await this.#request('PATCH', this.#uploadUrl!, headers, body, () => this.#sent(end - this.#base)).catch((error: unknown) => {
      this.#countMismatch(error);
      throw error;
    });
    const offset = readTusOffset(response.headers)?.offset;
    if (offset === undefined)
      throw new ProtocolError(`PATCH answer ${response.statusCode} without a valid Upload-Offset`, this.#reports.progress(), this.#position());
    this.#checkWindow(offset, start, end);
    if (declaring) this.#lengthDeclared = true;
    this.#lastResponse = toUploadResponse(response);
    this.#acknowledge(offset);
    if (offset === from && end > from) {
      // A 2xx that stored nothing: a failure for the retry limit, so it cannot loop forever.
      const error = new ProtocolError(
        `PATCH at offset ${from} was answered ${response.statusCode} without storing any byte`,
        this.#reports.progress(),
        this.#position(),
      );
      throw new AttemptFailed({ error, retryable: true });
    }
  }

  /** A PATCH the server found corrupted (460): counted where the caller can see it; the retry loop resends it. */
  #countMismatch(error: unknown): void {
    if (!this.#checksum || !(error instanceof AttemptFailed)) return;
    const { statusCode, error: failure } = error.attempt;
    if (!saysDigestMismatch(statusCode, (failure as { body?: string }).body)) return;
    this.#checksum.mismatches++;
    this.#reports.checksum(this.#checksum);
  }

  /** Where the server stands (tus §HEAD). */
  async #head(): Promise<TusOffset> {
    const response = await this.#request('HEAD', this.#uploadUrl!, {});
    const state = readTusOffset(response.headers);
    if (!state) throw new ProtocolError(`HEAD answer ${response.statusCode} without a valid Upload-Offset`, this.#reports.progress(), this.#position());
    this.#lastResponse = toUploadResponse(response);
    return state;
  }

  /** Runs `step` again after each failed attempt the retry policy says to repeat; any advance of the server's offset resets its count. */
  #retrying<T>(request: string, step: () => Promise<T>): Promise<T> {
    return retrying(step, {
      settings: this.#options.retry,
      signal: this.#cancel.signal,
      progress: () => this.#serverOffset,
      beforeRetry: (retry) => void publishRequestRetried(this.#context.diagnostics, request, retry),
    });
  }

  /**
   * One request through the caller's got instance: a 2xx response, or an
   * `AttemptFailed` for the retry policy to judge.
   */
  #request(
    method: 'POST' | 'PATCH' | 'HEAD' | 'OPTIONS',
    url: URL,
    headers: Record<string, string>,
    body?: Buffer,
    bodyGoes?: () => void,
  ): Promise<GotResponse<Buffer>> {
    const { expectsContinue, expectContinueTimeout } = this.#options;
    const { got } = this.#context;
    const spec = {
      method,
      url,
      ...this.#credentials(url, headers),
      body,
      expectContinueTimeout: expectsContinue ? expectContinueTimeout : undefined,
      onBodyGoes: bodyGoes,
      signal: this.#cancel.signal,
    };
    return attempt(got, spec, { progress: () => this.#reports.progress(), position: () => this.#position(), credentials: this.#context.credentials });
  }

  /** Every request carries the caller's headers and Tus-Resumable (tus 1.0 §Tus-Resumable). */
  #credentials(url: URL, extra: Record<string, string>): ReturnType<typeof credentialsForOrigin> {
    // A creation response may name a Location on another origin (a storage host):
    // credentials meant for the endpoint never follow it there.
    const headers = { ...this.#options.headers, 'tus-resumable': TUS_VERSION, ...extra };
    return credentialsForOrigin(headers, this.#options.url, url, this.#options.secretHeaders);
  }

  /** The server's offset must lie in what we still hold, [start, end]; anything else would be a guess. */
  #checkWindow(offset: number, start: number, end: number): void {
    if (offset < start || offset > end) {
      // The error's offset is the server's claim: that is where a resume would have to start.
      const { uploadUrl } = this.#position();
      throw new ResumeGapError(offset, start, end, this.#reports.progress(), { uploadUrl });
    }
  }

  /** True when a PATCH ending at `end` must carry Upload-Length: it is the last and the server waits for the length. */
  #declaresLength(end: number): boolean {
    return !this.#lengthDeclared && this.#totalLength() === end;
  }

  /** The whole upload's length once known: declared up front, held by the server, or fixed by `end()`. */
  #totalLength(): number | undefined {
    return this.#length ?? this.#endedAt;
  }

  /** The server's offset moved to `offset`: report the newly held bytes. */
  #acknowledge(offset: number): void {
    const held = this.#serverOffset - this.#base;
    this.#serverOffset = offset;
    const now = offset - this.#base;
    if (now > held) this.#reports.acknowledged(held, now - held);
  }

  /** Bytes up to `to` (relative) are on their way: report what is new. */
  #sent(to: number): void {
    if (to <= this.#sentTo) return;
    this.#reports.sent(to - this.#sentTo);
    this.#sentTo = to;
  }

  #setUploadUrl(url: URL): void {
    this.#uploadUrl = url;
    // A server may sign the upload URL it hands over: a response echoing it must not show the signature.
    learnSecrets(this.#context.credentials, secretValues([], [url]));
    this.#reports.uploadUrl(redactUrl(url));
  }

  /** What an error says about where to resume. */
  position(): ErrorPosition {
    return this.#position();
  }

  #position(): ErrorPosition {
    const position: ErrorPosition = { offset: this.#serverOffset };
    if (this.#uploadUrl) position.uploadUrl = redactUrl(this.#uploadUrl);
    return position;
  }

  /** tus §termination, asked for with `deleteOnAbort`. Best effort: the caller has already given up on the upload. */
  #terminate(url: URL): void {
    const spec = { method: 'DELETE' as const, url, ...this.#credentials(url, {}) };
    attempt(this.#context.got, spec, { progress: () => this.#reports.progress() }).catch(() => {});
  }
}
