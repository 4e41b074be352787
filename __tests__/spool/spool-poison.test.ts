/**
 * A poison batch (one the server answers 500 every time, as ClickHouse does
 * for a row it cannot parse) must not hold back the queue forever: once its
 * refusal ended 3 runs it is set aside, counted in the journal across runs,
 * and later batches go through. `setAsideOn` sets aside at once, not retried.
 * The `.json` beside the batch says why, with the answer's start redacted.
 */
import { afterEach, describe, expect, test } from '@jest/globals';
import { once } from 'node:events';
import { readFile } from 'node:fs/promises';
import { BufferedHttpWritable, HttpStatusError, type BatchModeOptions, type SpoolState } from '../../lib/index.js';
import { startBatchServer, type BatchServer, type FaultPlan } from '../helpers/batch-server.js';
import { removeSpoolDirs, spoolDir } from '../helpers/spool.js';

let server: BatchServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
  await removeSpoolDirs();
});

const SECRET = 's3cret-token';
/** Batch 0 is refused with a 500 that echoes the credential, as a debugging server might. */
const poisonFirst: FaultPlan = ({ sequence }) =>
  sequence === 0 ? { kind: 'status', status: 500, body: `Code: 27. DB::Exception: Cannot parse input (Authorization: Bearer ${SECRET})` } : { kind: 'ok' };

/** 4 records of 16 bytes, one batch each. */
function records(run: number): string[] {
  return [0, 1, 2, 3].map((n) => `{"r":${run},"n":${n}}`.padEnd(15, ' ') + '\n');
}

/** One run: writes `lines` and ends; resolves with the error's spool state, or undefined when it finished. */
async function run(url: string, options: Omit<BatchModeOptions, 'mode'>, lines: string[]): Promise<{ error?: HttpStatusError & { spool?: SpoolState } }> {
  const upload = new BufferedHttpWritable(url, { mode: 'batch', highWaterMark: 16, headers: { Authorization: `Bearer ${SECRET}` }, ...options });
  const failed = once(upload, 'error').then(([error]) => error as HttpStatusError & { spool?: SpoolState });
  const finished = once(upload, 'finish').then(() => undefined);
  for (const line of lines) upload.write(line);
  upload.end();
  const error = await Promise.race([failed, finished]);
  if (!upload.closed) await once(upload, 'close');
  return error ? { error } : {};
}

describe('a batch refused run after run is set aside by the third run', () => {
  test('500 to batch 0 on every attempt: runs 1 and 2 keep it, run 3 sets it aside, run 4 sends the rest', async () => {
    server = await startBatchServer(poisonFirst);
    const dir = await spoolDir();
    const options: Omit<BatchModeOptions, 'mode'> = { retry: { limit: 1 }, spool: { dir } };

    for (const attempt of [1, 2]) {
      const { error } = await run(server.url, options, attempt === 1 ? records(1) : []);
      expect(error).toBeInstanceOf(HttpStatusError);
      expect(error!.statusCode).toBe(500);
      expect(error!.spool).toEqual({ dir, bytesStored: 64 });
    }
    const third = await run(server.url, options, []);
    expect(third.error!.spool).toMatchObject({ dir, bytesStored: 48, setAsideReason: 'failed-runs' });
    const about = JSON.parse(await readFile(third.error!.spool!.setAside!.replace(/\.bin$/, '.json'), 'utf8')) as Record<string, unknown>;
    expect(about).toMatchObject({ reason: 'failed-runs', failedRuns: 3, statusCode: 500, sequence: 0, records: 1, bytes: 16 });
    expect(about.body).toBe('Code: 27. DB::Exception: Cannot parse input (Authorization: [REDACTED])');
    // Each run tried batch 0 twice (retry limit 1); no later batch went out before it.
    expect(server.attempts.map((attempt) => attempt.sequence)).toEqual([0, 0, 0, 0, 0, 0]);

    const fourth = await run(server.url, options, records(4));
    expect(fourth.error).toBeUndefined();
    expect(server.ordered().map((batch) => batch.body.toString())).toEqual([...records(1).slice(1), ...records(4)]);
  });

  test('a refusal that is not the fault of the batch (401) is not counted against it, however many runs it ends', async () => {
    let status = 401;
    server = await startBatchServer(({ sequence }) => (sequence === 0 && status !== 200 ? { kind: 'status', status } : { kind: 'ok' }));
    const dir = await spoolDir();
    const options: Omit<BatchModeOptions, 'mode'> = { retry: { limit: 0 }, spool: { dir } };
    for (const lines of [records(1), [], [], []]) {
      const { error } = await run(server.url, options, lines);
      expect(error!.spool).toEqual({ dir, bytesStored: 64 });
    }
    status = 200;
    expect((await run(server.url, options, [])).error).toBeUndefined();
    expect(server.assembled().toString()).toBe(records(1).join(''));
  });
});

describe('setAsideOn: answers that set a batch aside at once', () => {
  test('a list of statuses: the 500 is not retried, the batch goes aside in the first run', async () => {
    server = await startBatchServer(poisonFirst);
    const dir = await spoolDir();
    const { error } = await run(server.url, { retry: { limit: 3 }, spool: { dir, setAsideOn: [500] } }, records(1));
    expect(server.attempts).toHaveLength(1);
    expect(error!.spool).toMatchObject({ bytesStored: 48, setAsideReason: 'refused' });
    const about = JSON.parse(await readFile(error!.spool!.setAside!.replace(/\.bin$/, '.json'), 'utf8')) as Record<string, unknown>;
    expect(about).toMatchObject({ reason: 'refused', failedRuns: 0, statusCode: 500 });

    expect((await run(server.url, { spool: { dir } }, [])).error).toBeUndefined();
    expect(server.ordered().map((batch) => batch.sequence)).toEqual([1, 2, 3]);
  });

  test('a test of the answer sees its status and its body redacted', async () => {
    server = await startBatchServer(poisonFirst);
    const dir = await spoolDir();
    const seen: string[] = [];
    const setAsideOn = (response: { statusCode: number; body: string }): boolean => {
      seen.push(response.body);
      return response.statusCode === 500 && response.body.startsWith('Code: 27.');
    };
    const { error } = await run(server.url, { retry: { limit: 3 }, spool: { dir, setAsideOn } }, records(1));
    expect(server.attempts).toHaveLength(1);
    expect(error!.spool!.setAsideReason).toBe('refused');
    expect(seen.every((body) => !body.includes(SECRET))).toBe(true);
  });

  test('a list without 400 keeps a 400 batch (counted instead); a bad value is refused when the upload is made', async () => {
    server = await startBatchServer(({ sequence }) => (sequence === 0 ? { kind: 'status', status: 400 } : { kind: 'ok' }));
    const dir = await spoolDir();
    const { error } = await run(server.url, { spool: { dir, setAsideOn: [] } }, records(1));
    expect(error!.spool).toEqual({ dir, bytesStored: 64 });
    expect(() => new BufferedHttpWritable(server!.url, { mode: 'batch', spool: { dir, setAsideOn: [99] } })).toThrow(
      'spool.setAsideOn must be a list of HTTP statuses or a function of the response, received an object of type Array',
    );
  });
});
