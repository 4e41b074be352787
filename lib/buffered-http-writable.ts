import { resolveOptions } from './options/resolve.js';
import type { ResolvedOptions } from './options/table.js';
import { createUploadContext } from './upload-context.js';
import { createFiller, createTransport } from './modes/create.js';
import { BufferedWritableCore } from './core/writable.js';
import type { BufferedHttpWritableOptions } from './types.js';

/**
 * A `stream.Writable` that streams what is written to a web server over HTTP:
 * the Writable core (buffering, backpressure, lifecycle) given the transport
 * of `options.mode` (stream, batch or tus) and, batch with a spool, its filler.
 */
export class BufferedHttpWritable extends BufferedWritableCore<ResolvedOptions> {
  constructor(url: string | URL, options: BufferedHttpWritableOptions = {}) {
    const settings = resolveOptions(url, options);
    const context = createUploadContext(settings);
    super(settings, context, createTransport, createFiller(settings));
    // Only now does the writable exist for the diagnostics messages to name.
    context.diagnostics.upload = this;
  }
}
