import type { ResolvedOptions } from '../options.js';
import { createBatchTransport } from './batch.js';
import { StreamTransport } from './stream.js';
import type { Transport, TransportContext } from './transport.js';
import { createTusTransport } from './tus.js';

/** The transport for `options.mode`. */
export function createTransport(options: ResolvedOptions, context: TransportContext): Transport {
  switch (options.mode) {
    case 'stream':
      return new StreamTransport(options, context);
    case 'batch':
      return createBatchTransport(options, context);
    case 'tus':
      return createTusTransport(options, context);
  }
}
