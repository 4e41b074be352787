/*
 * Compiled by types.test.ts with `exactOptionalPropertyTypes: true`, as a
 * caller with that setting compiles: an optional key set to `undefined`
 * compiles (the library ignores it), and an option of another mode does not.
 */
import { BufferedHttpWritable, fetchTusOffset, uploadFile } from '../../../lib/index.js';

const url = 'http://127.0.0.1:9/upload';
const signal = undefined as AbortSignal | undefined;
const limit = undefined as number | undefined;

export const uploads = [
  new BufferedHttpWritable(url, { signal }),
  new BufferedHttpWritable(url, { mode: 'stream', signal: undefined, highWaterMark: limit, headers: undefined, contentLength: undefined }),
  new BufferedHttpWritable(url, { mode: 'batch', retry: undefined, concurrency: undefined, spool: { dir: '/tmp/spool', maxBytes: limit, fsync: undefined } }),
  new BufferedHttpWritable(url, { mode: 'tus', uploadUrl: undefined, resumeFrom: undefined, metadata: undefined, retry: { limit: 1 } }),
  // Another mode's key as undefined is as absent.
  new BufferedHttpWritable(url, { mode: 'stream', retry: undefined, spool: undefined }),
  // @ts-expect-error retry applies to batch and tus only
  new BufferedHttpWritable(url, { mode: 'stream', retry: { limit: 2 } }),
  // @ts-expect-error spool applies to batch only
  new BufferedHttpWritable(url, { mode: 'tus', spool: { dir: '/tmp/spool' } }),
];

export const files = [
  uploadFile('/tmp/file', url, { signal, declareSize: undefined, onRead: undefined, onProgress: undefined }),
  uploadFile('/tmp/file', url, { mode: 'tus', uploadUrl: undefined, onBatch: undefined }),
  // @ts-expect-error concurrency applies to batch only
  uploadFile('/tmp/file', url, { mode: 'tus', concurrency: 2 }),
];

export const offset = fetchTusOffset(url, { signal, retry: undefined, headers: undefined, got: undefined });
