import type { ResolvedOptions } from '../options.js';
import type { Transport, TransportContext } from './transport.js';

/** `tus` mode: the tus 1.0 resumable upload protocol. (Being built: see issue 4.) */
export function createTusTransport(options: ResolvedOptions, _context: TransportContext): Transport {
  throw new TypeError(`mode '${options.mode}' is not available yet in this version; use 'stream'`);
}
