import { resolveOptions, type BufferedHttpWritableOptions, type ResolvedOptions } from './options.js';
import { createFiller, createTransport } from './modes/create.js';
import { fetchTusOffset, type FetchTusOffsetOptions, type TusOffset } from './modes/tus/protocol.js';
import { BufferedWritableCore } from './core/writable.js';

/**
 * A `stream.Writable` that streams what is written to a web server over HTTP:
 * the Writable core (buffering, backpressure, lifecycle) given the transport
 * of `options.mode` (stream, batch or tus) and, batch with a spool, its filler.
 */
export class BufferedHttpWritable extends BufferedWritableCore<ResolvedOptions> {
  constructor(url: string | URL, options: BufferedHttpWritableOptions = {}) {
    const resolved = resolveOptions(url, options);
    super(resolved, createTransport, createFiller(resolved));
    // Only now does the writable exist for the diagnostics messages to name.
    resolved.diagnostics.upload = this;
  }

  /**
   * tus: asks the server how much of an upload it holds, to resume it in a new
   * writable given `uploadUrl`: `createReadStream(path, { start: offset })`.
   */
  static tusOffset(uploadUrl: string | URL, options?: FetchTusOffsetOptions): Promise<TusOffset> {
    return fetchTusOffset(uploadUrl, options);
  }
}
