import { afterEach, describe, expect, test } from '@jest/globals';
import fc from 'fast-check';
import { readdir, readFile } from 'node:fs/promises';
import { CUT, Spool } from '../../lib/modes/batch/spool/index.js';
import { recordsOf, removeSpoolDirs, spoolDir } from '../helpers/spool.js';

afterEach(removeSpoolDirs);

type Step =
  | { kind: 'append'; records: Array<number | 'cut'> }
  | { kind: 'next'; size: number; partial: boolean }
  | { kind: 'ack'; pick: number }
  | { kind: 'aside'; pick: number }
  | { kind: 'restart' };

const step: fc.Arbitrary<Step> = fc.oneof(
  {
    arbitrary: fc.record({
      kind: fc.constant('append' as const),
      records: fc.array(
        fc.oneof({ arbitrary: fc.nat(120), weight: 8 }, { arbitrary: fc.nat(700), weight: 1 }, { arbitrary: fc.constant('cut' as const), weight: 1 }),
        { maxLength: 12 },
      ),
    }),
    weight: 4,
  },
  { arbitrary: fc.record({ kind: fc.constant('next' as const), size: fc.integer({ min: 1, max: 400 }), partial: fc.boolean() }), weight: 4 },
  { arbitrary: fc.record({ kind: fc.constant('ack' as const), pick: fc.nat() }), weight: 3 },
  { arbitrary: fc.record({ kind: fc.constant('aside' as const), pick: fc.nat() }), weight: 1 },
  { arbitrary: fc.constant({ kind: 'restart' as const }), weight: 1 },
);

/** Every third record is appended as a string (UTF-8 text the spool encodes itself), with multi-byte characters. */
function recordText(index: number, size: number): string {
  let text = '';
  for (let k = 0; text.length < size; k++) text += (index + k) % 5 === 0 ? 'é€' : String.fromCharCode(97 + ((index + k) % 26));
  return text.slice(0, size);
}

/** Record `index` of `size` bytes: contents that differ from record to record. */
function recordBytes(index: number, size: number): Buffer {
  const bytes = Buffer.allocUnsafe(size);
  for (let k = 0; k < size; k++) bytes[k] = (index * 31 + k * 7) & 0xff;
  return bytes;
}

interface Seen {
  bytes: Buffer;
  offset: number;
  key: string;
  records: number[];
}

describe('whatever the records, CUTs, acknowledgements, set-asides and restarts, nothing is lost, duplicated or altered', () => {
  test('model check against the real spool', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 40 }), async (steps) => {
        const dir = await spoolDir();
        const options = { dir, segmentBytes: 512 };
        let spool = await Spool.open(options);
        try {
          const appended: Buffer[] = [];
          let delivered = 0; // records handed out in a first-time batch so far
          let nextOffset = 0;
          const seen = new Map<number, Seen>();
          const open = new Set<number>();
          let heldNow = new Set<number>(); // handed out in this session
          let newThisSession = false;
          let lastResend = -1;

          const check = (batch: { sequence: number; offset: number; key: string; bytes: Buffer; records: number[] }): void => {
            const copy = { ...batch, bytes: Buffer.from(batch.bytes) };
            const before = seen.get(copy.sequence);
            if (before) {
              // Only an unacknowledged batch from an earlier session comes back, first, oldest first, identical.
              expect(open.has(copy.sequence) && !heldNow.has(copy.sequence)).toBe(true);
              expect(newThisSession).toBe(false);
              expect(copy.sequence).toBeGreaterThan(lastResend);
              lastResend = copy.sequence;
              expect({ offset: copy.offset, key: copy.key, records: copy.records, bytes: copy.bytes }).toEqual(before);
            } else {
              newThisSession = true;
              expect(copy.sequence).toBe(seen.size);
              expect(copy.offset).toBe(nextOffset);
              expect(copy.key).toBe(`${spool.uploadId}-${copy.sequence}`);
              const expected = appended.slice(delivered, delivered + copy.records.length);
              expect(recordsOf(copy)).toEqual(expected);
              delivered += copy.records.length;
              nextOffset += copy.bytes.length;
              seen.set(copy.sequence, { bytes: copy.bytes, offset: copy.offset, key: copy.key, records: copy.records });
            }
            open.add(copy.sequence);
            heldNow.add(copy.sequence);
          };

          for (const current of steps) {
            if (current.kind === 'append') {
              const records: Array<Buffer | string | typeof CUT> = [];
              for (const size of current.records) {
                if (size === 'cut') records.push(CUT);
                else if (size > 0 && appended.length % 3 === 2) {
                  const text = recordText(appended.length, size);
                  appended.push(Buffer.from(text));
                  records.push(text);
                } else {
                  const bytes = recordBytes(appended.length, size);
                  appended.push(bytes);
                  records.push(bytes);
                }
              }
              expect(await spool.append(records)).toBe(records.reduce((sum: number, record) => sum + (record === CUT ? 0 : Buffer.byteLength(record)), 0));
            } else if (current.kind === 'next') {
              const batch = await spool.nextBatch(Buffer.alloc(current.size), current.partial);
              if (batch) check(batch);
            } else if (current.kind === 'ack' || current.kind === 'aside') {
              const candidates = [...heldNow].filter((sequence) => open.has(sequence));
              if (candidates.length === 0) continue;
              const sequence = candidates[current.pick % candidates.length]!;
              if (current.kind === 'ack') await spool.acknowledge(sequence);
              else expect(await readFile(await spool.setAside(sequence, { statusCode: 400, body: 'no' }))).toEqual(seen.get(sequence)!.bytes);
              open.delete(sequence);
            } else {
              await spool.close();
              spool = await Spool.open(options);
              heldNow = new Set();
              newThisSession = false;
              lastResend = -1;
            }
          }
          // Drain: everything comes out, exactly once beyond the resends.
          await spool.close();
          spool = await Spool.open(options);
          heldNow = new Set();
          newThisSession = false;
          lastResend = -1;
          for (let batch = await spool.nextBatch(Buffer.alloc(256), true); batch; batch = await spool.nextBatch(Buffer.alloc(256), true)) {
            check(batch);
            await spool.acknowledge(batch.sequence);
            open.delete(batch.sequence);
          }
          expect(delivered).toBe(appended.length);
          expect(open.size).toBe(0);
          expect(spool.empty).toBe(true);
          expect(spool.bytesStored).toBe(0);
          expect((await readdir(dir)).filter((name) => name.startsWith('seg-')).length).toBeLessThanOrEqual(1);
        } finally {
          await spool.close();
        }
      }),
      { numRuns: 100 },
    );
  });
});
