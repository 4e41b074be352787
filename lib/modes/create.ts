import type { FillerFactory } from '../core/filler.js';
import type { ResolvedOptions } from '../options/table.js';
import type { UploadContext } from '../upload-context.js';
import { spoolFiller } from './batch/spool/intake.js';
import { BatchTransport } from './batch/transport.js';
import { StreamTransport } from './stream/transport.js';
import type { Transport, TransportReports } from './transport.js';
import { TusTransport } from './tus/transport.js';
import { PartsTransport } from './parts/transport.js';
import { S3Protocol } from './s3/protocol.js';
import { AzureBlobProtocol } from './azure-blob/protocol.js';

/** The transport for `options.mode`. */
export function createTransport(options: ResolvedOptions, context: UploadContext, reports: TransportReports): Transport {
  switch (options.mode) {
    case 'stream':
      return new StreamTransport(options, context, reports);
    case 'batch':
      return new BatchTransport(options, context, reports);
    case 'tus':
      return new TusTransport(options, context, reports);
    case 's3':
      return new PartsTransport(options, context, reports, (attemptContext) => new S3Protocol(options, context, attemptContext));
    case 'azure-blob':
      return new PartsTransport(options, context, reports, (attemptContext) => new AzureBlobProtocol(options, context, attemptContext));
  }
}

/** The filler of a mode whose writes do not go straight into the pool (batch with a spool); undefined for plain writes. */
export function createFiller(options: ResolvedOptions): FillerFactory | undefined {
  return options.mode === 'batch' && options.spool ? spoolFiller(options.spool, options.flushInterval) : undefined;
}
