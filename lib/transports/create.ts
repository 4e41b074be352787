import type { ResolvedOptions } from '../options.js';
import { BatchTransport } from './batch.js';
import { StreamTransport } from './stream.js';
import type { Transport, TransportReports } from './transport.js';
import { TusTransport } from './tus.js';

/** The transport for `options.mode`. */
export function createTransport(options: ResolvedOptions, reports: TransportReports): Transport {
  switch (options.mode) {
    case 'stream':
      return new StreamTransport(options, reports);
    case 'batch':
      return new BatchTransport(options, reports);
    case 'tus':
      return new TusTransport(options, reports);
  }
}
