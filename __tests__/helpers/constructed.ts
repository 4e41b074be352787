import { once } from 'node:events';
import type { Writable } from 'node:stream';

/**
 * Resolves once `upload` has made its transport and filler (its mode's code
 * is loaded on first use) and Node has handed them the writes queued
 * meanwhile: from then on a write reaches the filler at once. 'ready' comes
 * first; Node marks the stream constructed on a later tick of the same turn.
 */
export async function constructed(upload: Writable): Promise<void> {
  await once(upload, 'ready');
  await new Promise(setImmediate);
}
