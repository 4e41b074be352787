export { CUT, Spool, type SpoolOptions, type SpooledBatch, type SpoolRecord } from './spool.js';
