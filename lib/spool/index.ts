export { CUT, Spool, type SpoolOptions, type SpooledBatch } from './spool.js';
