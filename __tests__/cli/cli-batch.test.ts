import { describe, expect, test } from '@jest/globals';
import fc from 'fast-check';
import { Readable } from 'node:stream';
import { RecordSplitter } from '../../cli/record-splitter.js';
import { runCli } from '../helpers/cli.js';
import { useCliFixture } from '../helpers/cli-fixture.js';
import { chunksOf } from '../helpers/data.js';
import { sha256 } from '../helpers/sink-server.js';

function ndjson(count: number): Buffer {
  const lines = Array.from({ length: count }, (_, n) => `${JSON.stringify({ n, message: 'x'.repeat((n * 37) % 300) })}\n`);
  return Buffer.from(lines.join(''));
}

describe('bhw --mode batch ships whole records', () => {
  const records = ndjson(5000);
  const fx = useCliFixture(records);

  test.each([
    ['a file', false],
    ['stdin', true],
  ])('%s: every batch ends on a newline, fits the buffer, and the batches in sequence order are the input', async (_name, viaStdin) => {
    const data = records;
    const result = await runCli(
      ['--sha256', '--mode', 'batch', '--concurrency', '3', '--high-water-mark', '16KiB', viaStdin ? '-' : fx.file, fx.sink.url],
      viaStdin ? { input: data } : {},
    );

    expect(result.code).toBe(0);
    const batches = [...fx.sink.received].sort((a, b) => Number(a.headers['batch-sequence']) - Number(b.headers['batch-sequence']));
    expect(batches.length).toBeGreaterThan(data.length / 16384);
    for (const batch of batches) {
      expect(batch.body.length).toBeLessThanOrEqual(16384);
      expect(batch.body.at(-1)).toBe(0x0a);
    }
    expect(sha256(Buffer.concat(batches.map((batch) => batch.body)))).toBe(sha256(data));
    expect(result.stderr).toContain(`sha256 ${sha256(data)}`);
  });

  test('--concurrency auto with --max-concurrency: the same whole records, never more requests at once than the maximum', async () => {
    const result = await runCli(['--mode', 'batch', '--concurrency', 'auto', '--max-concurrency', '3', '--high-water-mark', '16KiB', fx.file, fx.sink.url]);
    expect(result.code).toBe(0);
    const batches = [...fx.sink.received].sort((a, b) => Number(a.headers['batch-sequence']) - Number(b.headers['batch-sequence']));
    expect(sha256(Buffer.concat(batches.map((batch) => batch.body)))).toBe(sha256(records));
    expect(fx.sink.maxInFlight).toBeLessThanOrEqual(3);
  });

  test.each([
    [['--mode', 'batch', '--max-concurrency', '4'], /--max-concurrency applies with --concurrency auto only/],
    [['--mode', 'batch', '--concurrency', 'many'], /--concurrency must be an integer of at least 1 or auto, received "many"/],
  ])('usage errors: %j', async (flags, message) => {
    const result = await runCli([...flags, fx.file, fx.sink.url]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(message);
  });

  test('--flush-interval and --compress reach the library', async () => {
    const data = ndjson(100);
    const result = await runCli(['--mode', 'batch', '--flush-interval', '50', '--compress', 'gzip', '-', fx.sink.url], { input: data });

    expect(result.code).toBe(0);
    expect(fx.sink.received[0]!.headers['content-encoding']).toBe('gzip');
  });
});

describe('RecordSplitter', () => {
  const split = async (chunks: Buffer[], maxBytes: number): Promise<Buffer[]> => {
    const pieces: Buffer[] = [];
    for await (const piece of Readable.from(chunks).pipe(new RecordSplitter(maxBytes))) pieces.push(piece as Buffer);
    return pieces;
  };

  test('passes every byte on, in whole lines of at most maxBytes unless a line is longer', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.string({ maxLength: 60 }).map((line) => line.replace(/\n/g, '')),
          { maxLength: 40 },
        ),
        fc.boolean(),
        fc.array(fc.integer({ min: 1, max: 50 }), { minLength: 1, maxLength: 5 }),
        fc.integer({ min: 1, max: 80 }),
        async (lines, trailingNewline, sizes, maxBytes) => {
          const text = lines.join('\n') + (trailingNewline && lines.length > 0 ? '\n' : '');
          const data = Buffer.from(text);
          const pieces = await split(chunksOf(data, sizes), maxBytes);

          expect(Buffer.concat(pieces).equals(data)).toBe(true);
          for (const piece of pieces.slice(0, -1)) {
            const oneLongLine = piece.indexOf(0x0a) === -1 || piece.indexOf(0x0a) === piece.length - 1;
            if (piece.length > maxBytes || piece.at(-1) !== 0x0a) expect(oneLongLine).toBe(true);
            if (piece.at(-1) !== 0x0a) expect(piece.length).toBeGreaterThanOrEqual(maxBytes);
          }
        },
      ),
      { numRuns: 200 },
    );
  });
});
