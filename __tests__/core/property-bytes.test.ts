/**
 * Property tests (fast-check): whatever the sequence of writes — sizes from 0
 * to several × highWaterMark, Buffers and multi-byte strings mixed, flush()
 * calls anywhere — and whatever the highWaterMark, the server receives exactly
 * the bytes written, in every mode; in batch mode no write is split across
 * batches. On failure fast-check prints the seed and the shrunk case; rerun
 * one with `fc.assert(..., { seed, path })`. PROPERTY_RUNS=400 runs a longer search
 * (it passed 400 runs per mode when written).
 */
import { afterAll, beforeAll, describe, expect, jest, test } from '@jest/globals';
import fc from 'fast-check';
import { once } from 'node:events';
import { finished } from 'node:stream/promises';
import { BufferedHttpWritable, type BufferedHttpWritableOptions } from '../../lib/index.js';
import type { AnyModeOptions } from '../../lib/types.js';
import { startBatchServer, type BatchServer } from '../helpers/batch-server.js';
import { pattern } from '../helpers/data.js';
import { startSink, type Sink } from '../helpers/sink-server.js';
import { startTusServer, type TusTestServer } from '../helpers/tus-server.js';

jest.setTimeout(60_000);

const NUM_RUNS = Number(process.env.PROPERTY_RUNS ?? 40);

type Op = { kind: 'buffer'; size: number; seed: number } | { kind: 'string'; unit: string; repeat: number } | { kind: 'flush' };

/** Units of 1 to 4 UTF-8 bytes, so a string may end anywhere inside a buffer. */
const UNITS = ['a', 'é', '日', '🚀', 'x\n', 'ß日🚀'];

/** Write sizes as a fraction of highWaterMark (0 to 3.5×), so they scale with it. */
const opArbitrary = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({ kind: fc.constant('buffer' as const), size: fc.integer({ min: 0, max: 3500 }), seed: fc.integer({ min: 1, max: 1000 }) }),
  },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('string' as const), unit: fc.constantFrom(...UNITS), repeat: fc.integer({ min: 0, max: 3500 }) }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'flush' as const }) },
);

const caseArbitrary = fc.record({
  highWaterMark: fc.oneof(fc.integer({ min: 1, max: 16 }), fc.integer({ min: 17, max: 8192 })),
  ops: fc.array(opArbitrary, { minLength: 0, maxLength: 25 }),
});

interface Case {
  highWaterMark: number;
  ops: Op[];
}

/** The chunks of a case, at its highWaterMark: Buffers, and strings whose UTF-8 size is about the same share. */
function chunksOf({ highWaterMark, ops }: Case): Array<Buffer | string | 'flush'> {
  return ops.map((op) => {
    if (op.kind === 'flush') return 'flush';
    if (op.kind === 'buffer') return pattern(Math.floor((op.size * highWaterMark) / 1000), op.seed);
    const unitBytes = Buffer.byteLength(op.unit);
    return op.unit.repeat(Math.floor((op.repeat * highWaterMark) / 1000 / unitBytes));
  });
}

/** Writes every chunk honouring backpressure, flushes where asked, ends; returns the writes' byte ranges. */
async function drive(upload: BufferedHttpWritable, chunks: Array<Buffer | string | 'flush'>): Promise<Array<[number, number]>> {
  const ranges: Array<[number, number]> = [];
  let offset = 0;
  for (const chunk of chunks) {
    if (chunk === 'flush') {
      await upload.flush();
      continue;
    }
    const size = Buffer.byteLength(chunk);
    ranges.push([offset, offset + size]);
    offset += size;
    if (!upload.write(chunk)) await once(upload, 'drain');
  }
  upload.end();
  await finished(upload);
  return ranges;
}

function expected(chunks: Array<Buffer | string | 'flush'>): Buffer {
  return Buffer.concat(chunks.filter((chunk) => chunk !== 'flush').map((chunk) => (typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk)));
}

function options(overrides: AnyModeOptions): BufferedHttpWritableOptions {
  return { retry: { backoffLimit: 2 }, ...overrides } as BufferedHttpWritableOptions;
}

describe('stream mode: the body is exactly the bytes written', () => {
  let sink: Sink;
  beforeAll(async () => {
    sink = await startSink();
  });
  afterAll(() => sink.close());

  test('random writes, strings and flushes', async () => {
    await fc.assert(
      fc.asyncProperty(caseArbitrary, async (testCase) => {
        const chunks = chunksOf(testCase);
        const upload = new BufferedHttpWritable(sink.url, { highWaterMark: testCase.highWaterMark });
        await drive(upload, chunks);
        const want = expected(chunks);
        expect(sink.received.at(-1)!.body.equals(want)).toBe(true);
        expect(upload.bytesAcknowledged).toBe(want.length);
      }),
      { numRuns: NUM_RUNS },
    );
  });
});

describe('batch mode: the batches reassemble exactly, and no write is split', () => {
  let server: BatchServer;
  beforeAll(async () => {
    server = await startBatchServer();
  });
  afterAll(() => server.close());

  test('random writes, strings, flushes and concurrency', async () => {
    await fc.assert(
      fc.asyncProperty(caseArbitrary, fc.integer({ min: 1, max: 3 }), async (testCase, concurrency) => {
        const chunks = chunksOf(testCase);
        const before = server.stored.size;
        const upload = new BufferedHttpWritable(server.url, options({ mode: 'batch', highWaterMark: testCase.highWaterMark, concurrency }));
        const ranges = await drive(upload, chunks);
        const batches = [...server.stored.values()].slice(before).sort((a, b) => a.sequence - b.sequence);
        const want = expected(chunks);
        expect(Buffer.concat(batches.map((batch) => batch.body)).equals(want)).toBe(true);
        expect(server.mismatches).toBe(0);
        // Every non-empty write lies inside one batch.
        for (const [start, end] of ranges) {
          if (end === start) continue;
          const holder = batches.find((batch) => batch.offset <= start && end <= batch.offset + batch.body.length);
          expect(holder).toBeDefined();
        }
        // Batches are contiguous: each starts where the one before ended.
        let offset = 0;
        for (const batch of batches) {
          expect(batch.offset).toBe(offset);
          expect(batch.body.length).toBeGreaterThan(0);
          offset += batch.body.length;
        }
      }),
      { numRuns: NUM_RUNS },
    );
  });
});

describe('tus mode: the stored upload is exactly the bytes written', () => {
  let server: TusTestServer;
  beforeAll(async () => {
    server = await startTusServer();
  });
  afterAll(() => server.close());

  test('random writes, strings and flushes, with deferred or declared length', async () => {
    await fc.assert(
      fc.asyncProperty(caseArbitrary, fc.boolean(), async (testCase, declare) => {
        const chunks = chunksOf(testCase);
        const want = expected(chunks);
        const upload = new BufferedHttpWritable(
          server.url,
          options({ mode: 'tus', highWaterMark: testCase.highWaterMark, ...(declare ? { contentLength: want.length } : {}) }),
        );
        await drive(upload, chunks);
        const stored = await server.stored(upload.uploadUrl!);
        expect(stored.bytes.equals(want)).toBe(true);
        expect(stored.length).toBe(want.length);
      }),
      { numRuns: NUM_RUNS },
    );
  });
});
