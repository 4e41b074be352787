import { afterEach, describe, expect, test } from '@jest/globals';
import { gzipSync } from 'node:zlib';
import { DiagnosticsChannels, type BatchSentMessage, type BatchSplitMessage } from '../../lib/diagnostics.js';
import { BufferedHttpWritable, HttpStatusError, type BatchReport, type ProgressSnapshot } from '../../lib/index.js';
import { startSizeLimitServer, type CapacityServer } from '../helpers/capacity-server.js';
import { expectWholeRecords } from '../helpers/whole-records.js';
import { ndjsonLines } from '../helpers/batch-server.js';
import { pattern } from '../helpers/data.js';
import { recordChannels } from '../helpers/channels.js';
import { runUpload } from '../helpers/outcome.js';

/**
 * A batch of several writes answered 413 is split at the write boundary
 * nearest its middle and the halves go out as requests of their own,
 * recursively, down to single writes; a single write still answered 413
 * fails with HttpStatusError and its offset.
 */

const lines = ndjsonLines(300, 21);
const expected = Buffer.from(lines.join(''));
const limit = 700;

let server: CapacityServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

describe('413: split between writes', () => {
  test('batches split recursively down to what fits: every record once, in order, keys derived, sequence kept', async () => {
    // Records are at most ~330 bytes: pieces of two or more may be refused, single records always fit.
    expect(Math.max(...lines.map((line) => Buffer.byteLength(line)))).toBeLessThanOrEqual(limit);
    server = await startSizeLimitServer(limit);
    const upload = new BufferedHttpWritable(server.url, { mode: 'batch', highWaterMark: 4096, concurrency: 3 });
    const channels = recordChannels((each) => each === upload);
    const reports: BatchReport[] = [];
    upload.on('batch', (report) => reports.push(report));
    const progress: ProgressSnapshot[] = [];
    upload.on('progress', (snapshot) => progress.push(snapshot));
    const { error } = await runUpload(upload, lines);
    channels.stop();

    expect(error).toBeUndefined();
    expectWholeRecords(server, expected, lines);
    const splits = channels.of<BatchSplitMessage>(DiagnosticsChannels.batchSplit).map((each) => each.message);
    expect(splits.length).toBeGreaterThan(0);
    expect(server.answers.get(413)).toBe(splits.length);
    // Recursion: some piece was split again (its key already had a suffix).
    expect(splits.some((split) => /\.[01]$/.test(split.key))).toBe(true);
    for (const split of splits) {
      expect(split.statusCode).toBe(413);
      expect(split.pieces.map((piece) => piece.key)).toEqual([`${split.key}.0`, `${split.key}.1`]);
      expect(split.pieces[0].offset).toBe(split.offset);
      expect(split.pieces[1].offset).toBe(split.offset + split.pieces[0].size);
      expect(split.pieces[0].size + split.pieces[1].size).toBe(split.size);
    }
    const prefix = [...server.stored.keys()][0]!.replace(/-\d+(\.[01])*$/, '');
    for (const batch of server.stored.values()) {
      expect(batch.body.length).toBeLessThanOrEqual(limit);
      // A piece keeps its parent's Batch-Sequence: <prefix>-<sequence>.<half>…
      expect(batch.key).toMatch(new RegExp(`^${prefix}-${batch.sequence}(\\.[01])*$`));
    }
    // One 'batch' event per batch the core handed over, when all its pieces are acknowledged.
    const batches = progress.at(-1)!.batchesSent!;
    expect(reports).toHaveLength(batches);
    expect(progress.at(-1)).toMatchObject({ batchesAcknowledged: batches, bytesSent: expected.length, bytesAcknowledged: expected.length });
    expect(new Set(reports.map((report) => report.sequence)).size).toBe(batches);
    const split = reports.filter((report) => report.pieces !== undefined);
    expect(split.length).toBeGreaterThan(0);
    for (const report of split) expect(report.pieces).toBeGreaterThan(1);
  });

  test('with gzip each piece is compressed on its own and the limit applies to wire bytes', async () => {
    // Records that do not compress much (hex of patterned bytes), so 4 KiB batches stay above the limit.
    const hexLines = Array.from(
      { length: 120 },
      (_, index) => `${JSON.stringify({ index, data: pattern(60 + (index % 7) * 20, index + 1).toString('hex') })}\n`,
    );
    const hexData = Buffer.from(hexLines.join(''));
    server = await startSizeLimitServer(1000);
    const upload = new BufferedHttpWritable(server.url, { mode: 'batch', highWaterMark: 4096, compress: 'gzip', concurrency: 2 });
    const channels = recordChannels((each) => each === upload);
    const { error } = await runUpload(upload, hexLines);
    channels.stop();
    expect(error).toBeUndefined();
    expect(server.assembled().equals(hexData)).toBe(true);
    expect(server.problems()).toEqual([]);
    expect(channels.of(DiagnosticsChannels.batchSplit).length).toBeGreaterThan(0);
    // The body that was acknowledged for each key is that piece's bytes compressed on their own.
    const sent = new Map(channels.of<BatchSentMessage>(DiagnosticsChannels.batchSent).map((each) => [each.message.key, each.message.bodySize]));
    for (const batch of server.stored.values()) {
      expect(sent.get(batch.key)).toBe(gzipSync(batch.body).length);
      expect(sent.get(batch.key)).toBeLessThanOrEqual(1000);
    }
  });

  test('a single write still answered 413 fails with HttpStatusError carrying its offset', async () => {
    const small = lines.slice(0, 5);
    const huge = `${JSON.stringify({ msg: 'y'.repeat(2000) })}\n`;
    const offset = Buffer.byteLength(small.join(''));
    server = await startSizeLimitServer(1000);
    const upload = new BufferedHttpWritable(server.url, { mode: 'batch', highWaterMark: 4096 });
    const { error } = await runUpload(upload, [...small, huge, ...lines.slice(5, 10)]);
    expect(error).toBeInstanceOf(HttpStatusError);
    expect(error).toMatchObject({ code: 'ERR_BHW_HTTP_STATUS', statusCode: 413, sequence: 0, offset });
  });

  test('a pass-through write larger than highWaterMark answered 413 is one write: it fails as today', async () => {
    server = await startSizeLimitServer(1000);
    const upload = new BufferedHttpWritable(server.url, { mode: 'batch', highWaterMark: 512 });
    const { error } = await runUpload(upload, [Buffer.alloc(2000, 0x61)]);
    expect(error).toBeInstanceOf(HttpStatusError);
    expect(error).toMatchObject({ statusCode: 413, sequence: 0, offset: 0 });
    expect(server.requests).toBe(1);
  });
});
