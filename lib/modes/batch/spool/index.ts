export { Spool, type SpoolOptions } from './spool.js';
export { type SpooledBatch } from './reader.js';
export { CUT, type SpoolRecord } from './writer.js';
export { refuseRecord } from './record-limit.js';
