import type { ResolvedOptions } from '../options.js';
import { StreamTransport } from './stream.js';
import type { Transport, TransportContext } from './transport.js';

/** The transport for `options.mode`. */
export function createTransport(options: ResolvedOptions, context: TransportContext): Transport {
  switch (options.mode) {
    case 'stream':
      return new StreamTransport(options, context);
    default:
      throw new TypeError(`mode '${options.mode}' is not available yet in this version; use 'stream'`);
  }
}
