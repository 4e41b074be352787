import type { FillerFactory } from '../../../core/filler.js';
import { refuseRecord } from './record-limit.js';
import type { ResolvedSpoolSettings } from './settings.js';

/**
 * The filler of batch mode with a spool: writes go to disk, batches come back
 * from it. The spool's code is loaded when the Writable opens it; only the
 * size rule, asked at each write, is loaded with the library.
 */
export function spoolFiller(settings: ResolvedSpoolSettings, flushInterval: number | undefined): FillerFactory {
  return {
    open: async (context) => {
      const { SpoolIntake } = await import('./intake.js');
      return SpoolIntake.open(context, settings, flushInterval);
    },
    // A record larger than the spool can ever hold would wait for room forever.
    refusal: (chunk, encoding, progress) => refuseRecord(chunk, encoding, settings.maxBytes, progress),
  };
}
