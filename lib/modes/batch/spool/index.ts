export { Spool, type SpoolOptions } from './spool.js';
export { type SpooledBatch } from './reader.js';
export { CUT, refuseRecord, type SpoolRecord } from './writer.js';
