import type { ResolvedOptions } from '../options.js';
import type { Transport, TransportContext } from './transport.js';

/** `batch` mode: one request per buffer. (Being built: see issue 3.) */
export function createBatchTransport(options: ResolvedOptions, _context: TransportContext): Transport {
  throw new TypeError(`mode '${options.mode}' is not available yet in this version; use 'stream'`);
}
