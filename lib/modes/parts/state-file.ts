import { constants } from 'node:fs';
import { open, readFile, rename, rm } from 'node:fs/promises';
import { PartsStateError } from '../../errors.js';
import type { StoredPart } from './protocol.js';

/**
 * The state of a multipart upload, kept in a file the caller names, so a
 * later process can resume it: which upload, and which parts the server
 * holds. Written after every stored part, atomically (a new file renamed
 * over the old), so a kill at any moment leaves the last complete state.
 * It names the target without its query (an Azure SAS is a secret) and
 * holds no credential.
 */
export interface PartsState {
  version: 1;
  /** The object's URL, query removed: a state file is refused for another target. */
  target: string;
  /** S3's UploadId; Azure's block id nonce. */
  uploadId: string;
  /** The parts the server holds, ascending by number. */
  parts: StoredPart[];
}

/** What a resumed upload starts from (`readUploadState`): write the source from `bytesStored` on. */
export interface UploadState {
  uploadId: string;
  /** Bytes in the parts 1…n that the server holds without a gap: the next write is the byte at this offset. */
  bytesStored: number;
  /** Those parts (a part stored past a gap is sent again, so it is not listed). */
  parts: StoredPart[];
}

/** The file's content as a resumed upload uses it: the parts without a gap, and the bytes they hold. */
export function contiguousParts(parts: readonly StoredPart[]): UploadState['parts'] {
  const sorted = [...parts].sort((a, b) => a.number - b.number);
  const kept: StoredPart[] = [];
  for (const part of sorted) {
    if (part.number !== kept.length + 1) break;
    kept.push(part);
  }
  return kept;
}

/** The target as the state file records it: no query (a SAS), no credentials in the URL. */
export function stateTarget(url: URL): string {
  const target = new URL(url.href);
  target.search = '';
  target.username = '';
  target.password = '';
  return target.href;
}

/**
 * The state recorded in `path`: undefined when there is no such file. A file
 * that is not a state file, or records another target, is `PartsStateError`.
 */
export async function readPartsState(path: string, target?: URL): Promise<PartsState | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new PartsStateError(path, `cannot be read (${(error as Error).message})`, undefined, { cause: error });
  }
  const state = parseState(path, text);
  if (target !== undefined && state.target !== stateTarget(target)) {
    throw new PartsStateError(path, `records an upload to ${state.target}, not ${stateTarget(target)}: use another state file`);
  }
  return state;
}

/** Where an upload recorded in `path` stands: undefined when there is none (a new upload). */
export async function readUploadState(path: string): Promise<UploadState | undefined> {
  const state = await readPartsState(path);
  if (!state) return undefined;
  const parts = contiguousParts(state.parts);
  return { uploadId: state.uploadId, bytesStored: parts.reduce((sum, part) => sum + part.size, 0), parts };
}

/** Replaces the state in `path` at once: written to `<path>.next` (0600, never through a link), then renamed. */
export async function writePartsState(path: string, state: PartsState): Promise<void> {
  const next = `${path}.next`;
  const file = await open(next, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_NOFOLLOW, 0o600);
  try {
    await file.writeFile(`${JSON.stringify(state, null, 2)}\n`);
    await file.sync();
  } finally {
    await file.close();
  }
  await rename(next, path);
}

/** The upload is complete: nothing is left to resume. */
export async function removePartsState(path: string): Promise<void> {
  await rm(path, { force: true });
}

function parseState(path: string, text: string): PartsState {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new PartsStateError(path, 'is not JSON');
  }
  const state = value as Partial<PartsState>;
  const partsValid =
    Array.isArray(state.parts) &&
    state.parts.every(
      (part) =>
        Number.isInteger(part?.number) &&
        part.number > 0 &&
        Number.isInteger(part.size) &&
        part.size >= 0 &&
        typeof part.etag === 'string' &&
        (part.checksum === undefined || typeof part.checksum === 'string'),
    );
  if (state.version !== 1 || typeof state.target !== 'string' || typeof state.uploadId !== 'string' || !partsValid) {
    throw new PartsStateError(path, 'is not an upload state file of this version (version, target, uploadId, parts)');
  }
  return state as PartsState;
}
