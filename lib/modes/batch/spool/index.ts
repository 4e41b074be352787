export { CUT, refuseRecord, Spool, type SpoolOptions, type SpooledBatch, type SpoolRecord } from './spool.js';
