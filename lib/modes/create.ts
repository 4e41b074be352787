import type { FillerFactory } from '../core/filler.js';
import type { ResolvedOptions } from '../options/table.js';
import type { UploadContext } from '../upload-context.js';
import { spoolFiller } from './batch/spool/filler-factory.js';
import type { Transport, TransportReports } from './transport.js';

/**
 * The transport for `options.mode`, its folder loaded on first use: a process
 * that holds every mode's code has a larger old generation to mark, and V8
 * then runs several times more major collections during a long upload (a
 * quarter of a stream upload's CPU per GiB, BENCHMARKS.md, W1 1 MiB).
 */
export async function createTransport(options: ResolvedOptions, context: UploadContext, reports: TransportReports): Promise<Transport> {
  switch (options.mode) {
    case 'stream': {
      const { StreamTransport } = await import('./stream/transport.js');
      return new StreamTransport(options, context, reports);
    }
    case 'batch': {
      const { BatchTransport } = await import('./batch/transport.js');
      return new BatchTransport(options, context, reports);
    }
    case 'tus': {
      const { TusTransport } = await import('./tus/transport.js');
      return new TusTransport(options, context, reports);
    }
    case 's3': {
      const [{ PartsTransport }, { S3Protocol }] = await Promise.all([import('./parts/transport.js'), import('./s3/protocol.js')]);
      return new PartsTransport(options, context, reports, (attemptContext) => new S3Protocol(options, context, attemptContext));
    }
    case 'azure-blob': {
      const [{ PartsTransport }, { AzureBlobProtocol }] = await Promise.all([import('./parts/transport.js'), import('./azure-blob/protocol.js')]);
      return new PartsTransport(options, context, reports, (attemptContext) => new AzureBlobProtocol(options, context, attemptContext));
    }
  }
}

/** The filler of a mode whose writes do not go straight into the pool (batch with a spool); undefined for plain writes. */
export function createFiller(options: ResolvedOptions): FillerFactory | undefined {
  return options.mode === 'batch' && options.spool ? spoolFiller(options.spool, options.flushInterval) : undefined;
}
