/**
 * The small records of W2 and W3: NDJSON log lines of about 100 bytes, made
 * once up front (a ring of distinct lines) so the timed loop measures the
 * writes, not the making of the data.
 */
const RING = 1024;

export interface RecordRing {
  strings: string[];
  buffers: Buffer[];
  /** Bytes written by `count` writes taken round the ring. */
  totalBytes(count: number): number;
}

export function makeRecords(): RecordRing {
  const strings: string[] = [];
  for (let i = 0; i < RING; i++) {
    const line = JSON.stringify({ ts: 1_700_000_000_000 + i, level: i % 7 === 0 ? 'warn' : 'info', svc: 'ingest', msg: `record ${i}` });
    // Pad to a steady ~100 bytes, with a little variation as real lines have.
    const target = 96 + (i % 9);
    strings.push(`${line.slice(0, -1)},"pad":"${'x'.repeat(Math.max(0, target - line.length - 9))}"}\n`);
  }
  const buffers = strings.map((line) => Buffer.from(line));
  const ringBytes = buffers.reduce((sum, buffer) => sum + buffer.length, 0);
  return {
    strings,
    buffers,
    totalBytes(count: number): number {
      const whole = Math.floor(count / RING) * ringBytes;
      let rest = 0;
      for (let i = 0; i < count % RING; i++) rest += buffers[i]!.length;
      return whole + rest;
    },
  };
}

export const RECORD_RING = RING;
