import { describe, expect, test } from '@jest/globals';
import { ContentLengthError, ResumeGapError } from '../../lib/index.js';
import { failureLine, reasonOf, resumeCommand, summaryLine, type UploadSummary } from '../../cli/report.js';
import { formatBytes, formatRate, parseDigits, parseSecondsToMs } from '../../cli/units.js';

const summary: UploadSummary = { bytes: 1536, sha256: 'ab'.repeat(32), statusCode: 201, seconds: 0.5, mode: 'stream', body: '' };

describe('sizes and rates as the summary prints them', () => {
  test.each<[number, string]>([
    [0, '0 B'],
    [1023, '1023 B'],
    [1536, '1.5 KiB'],
    [5 * 1024 ** 3, '5.0 GiB'],
    [3 * 1024 ** 5, '3072.0 TiB'],
  ])('%d bytes is %s', (bytes, text) => {
    expect(formatBytes(bytes)).toBe(text);
  });

  test('digits and seconds as the arguments give them', () => {
    expect(parseDigits('042')).toBe(42);
    expect([parseDigits('4.2'), parseDigits('-1'), parseDigits(' 1'), parseDigits(''), parseDigits(undefined), parseDigits('9'.repeat(20))]).toEqual([
      undefined,
      undefined,
      undefined,
      undefined,
      undefined,
      undefined,
    ]);
    expect(parseSecondsToMs('2.5')).toBe(2500);
    expect(parseSecondsToMs('0')).toBe(0);
    expect([parseSecondsToMs('1e3'), parseSecondsToMs('-1'), parseSecondsToMs('.5'), parseSecondsToMs('9'.repeat(20))]).toEqual([
      undefined,
      undefined,
      undefined,
      undefined,
    ]);
  });

  test('decimal MB/s, and 0 when no time passed', () => {
    expect(formatRate(3_000_000, 2)).toBe('1.50 MB/s');
    expect(formatRate(3_000_000, 0)).toBe('0.00 MB/s');
  });
});

describe('the summary line', () => {
  test('a plain upload', () => {
    expect(summaryLine(summary)).toBe(`bhw: uploaded 1536 bytes (1.5 KiB) in 0.50 s, 0.00 MB/s, sha256 ${'ab'.repeat(32)}, status 201`);
  });

  test('a resumed tus upload names its offset and upload URL; no answer reads "status none"', () => {
    const line = summaryLine({ ...summary, statusCode: null, mode: 'tus', offset: 512, uploadUrl: 'http://127.0.0.1:1/files/x' });
    expect(line).toContain('1536 bytes (1.5 KiB) from offset 512 in 0.50 s');
    expect(line).toContain('status none, upload http://127.0.0.1:1/files/x');
  });
});

describe('the failure line says the reason and how far the upload got', () => {
  test("a library error's own figures, with the total, and what a tus server holds", () => {
    const error = new ResumeGapError(10, 20, 30, { bytesWritten: 40, bytesSent: 30, bytesAcknowledged: 20 }, { uploadUrl: 'http://127.0.0.1:1/files/x' });
    // The message is printed as it is: older library versions end it with their own counters.
    expect(error.message).toBe('Server offset 10 is behind the bytes still held [20, 30): refusing to guess');
    expect(failureLine(error, { bytesSent: 0, bytesAcknowledged: 0 }, 100)).toBe(
      `bhw: upload failed: ${error.message} (sent 30 of 100 bytes, 20 acknowledged; the server holds 10 bytes of the upload)`,
    );
  });

  test('a library error without an upload URL says nothing of what the server holds', () => {
    const error = new ContentLengthError(10, 12, { bytesWritten: 12, bytesSent: 8, bytesAcknowledged: 0 });
    expect(failureLine(error, { bytesSent: 0, bytesAcknowledged: 0, offset: 4 })).toBe(`bhw: upload failed: ${error.message} (sent 8 bytes, 0 acknowledged)`);
  });

  test("any other error: the writable's figures", () => {
    expect(failureLine(new Error('read EIO:\n  disk gone'), { bytesSent: 5, bytesAcknowledged: 3 })).toBe(
      'bhw: upload failed: read EIO: disk gone (sent 5 bytes, 3 acknowledged)',
    );
    // The message is not taken apart: whatever it says stays, on one line.
    expect(reasonOf(new Error('boom (1 bytes written, 2 sent, 3 acknowledged)'))).toBe('boom (1 bytes written, 2 sent, 3 acknowledged)');
    expect(reasonOf(new Error('  boom\n\tagain  '))).toBe('boom again');
  });
});

describe('the resume command drops an earlier --resume in either spelling', () => {
  test('--resume=URL', () => {
    const { command } = resumeCommand(['--resume=http://h/tus/old', "it's.bin", 'http://h/tus'], 'http://h/tus/new');
    expect(command).toBe(`bhw --resume http://h/tus/new 'it'\\''s.bin' http://h/tus`);
  });
});
