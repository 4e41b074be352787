import { resolveOptions, type ResolvedOptions } from './options.js';
import { createTransport } from './modes/create.js';
import { fetchTusOffset } from './modes/tus/protocol.js';
import { BufferedWritableCore } from './core/writable.js';
import type { BufferedHttpWritableOptions, FetchTusOffsetOptions, TusOffset } from './types.js';

/**
 * A `stream.Writable` that streams what is written to a web server over HTTP:
 * the Writable core (buffering, backpressure, lifecycle) given the transport
 * of `options.mode` (stream, batch or tus).
 */
export class BufferedHttpWritable extends BufferedWritableCore<ResolvedOptions> {
  constructor(url: string | URL, options: BufferedHttpWritableOptions = {}) {
    const resolved = resolveOptions(url, options);
    super(resolved, createTransport);
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
