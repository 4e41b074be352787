import { afterEach, describe, expect, test } from '@jest/globals';
import { killChildren, spawnChild } from '../helpers/children.js';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { crc32 } from 'node:zlib';
import { Spool } from '../../lib/modes/batch/spool/index.js';
import { recordsOf, removeSpoolDirs, spoolDir } from '../helpers/spool.js';

/** The built spool module: `npm test` builds before jest; during development run `npm run build` first. */
const SPOOL_MODULE = fileURLToPath(new URL('../../dist/lib/modes/batch/spool/index.js', import.meta.url));

afterEach(async () => {
  await killChildren();
  await removeSpoolDirs();
});

/**
 * A writer that appends numbered records (`<round>-<n>` padded to a varying
 * size) and cuts batches without ever acknowledging one. It prints
 * `A <n>` once record n's append resolved, and `B <sequence> <offset> <length> <crc32>`
 * for every batch handed to it, resent or new.
 */
function writerScript(dir: string, round: number, fsync: boolean): string {
  return `
    const { Spool } = await import(${JSON.stringify(SPOOL_MODULE)});
    const { crc32 } = await import('node:zlib');
    const spool = await Spool.open({ dir: ${JSON.stringify(dir)}, fsync: ${fsync}, segmentBytes: 4096 });
    const into = Buffer.alloc(700);
    const report = (batch) => process.stdout.write('B ' + batch.sequence + ' ' + batch.offset + ' ' + batch.bytes.length + ' ' + crc32(batch.bytes) + '\\n');
    let n = 0;
    for (;;) {
      const group = [];
      for (let k = 0; k < 1 + (n % 7); k++, n++) group.push(Buffer.from(('${round}-' + n + ';').padEnd(10 + (n * 37) % 150, '.')));
      await spool.append(group);
      process.stdout.write('A ' + (n - 1) + '\\n');
      for (let batch = await spool.nextBatch(into, false); batch; batch = await spool.nextBatch(into, false)) report(batch);
    }
  `;
}

interface Round {
  lastDurable: number;
  batches: Map<number, string>;
}

/** Runs one writer until it reported `killAfter` durable records, then SIGKILLs it. */
async function runAndKill(dir: string, round: number, fsync: boolean, killAfter: number): Promise<Round> {
  const child = spawnChild(process.execPath, ['--input-type=module', '-e', writerScript(dir, round, fsync)], { stdio: ['ignore', 'pipe', 'inherit'] });
  child.stdout!.setEncoding('utf8');
  const result: Round = { lastDurable: -1, batches: new Map() };
  let pending = '';
  let killed = false;
  child.stdout!.on('data', (text: string) => {
    pending += text;
    const lines = pending.split('\n');
    pending = lines.pop()!; // a line cut by the kill is not a report
    for (const line of lines) {
      const [kind, ...fields] = line.split(' ');
      if (kind === 'A') result.lastDurable = Number(fields[0]);
      else result.batches.set(Number(fields[0]), fields.slice(1).join(' '));
    }
    if (!killed && result.lastDurable >= killAfter) {
      killed = true;
      child.kill('SIGKILL');
    }
  });
  const [code, signal] = (await once(child, 'close')) as [number | null, NodeJS.Signals | null];
  expect({ code, signal }).toEqual({ code: null, signal: 'SIGKILL' });
  return result;
}

describe('a writer SIGKILLed at any moment loses no record whose append resolved, and resends batches identically', () => {
  for (const fsync of [false, true]) {
    test(`fsync ${fsync}: three kills on one directory, then a drain`, async () => {
      const dir = await spoolDir();
      const rounds: Round[] = [];
      for (let round = 0; round < 3; round++) rounds.push(await runAndKill(dir, round, fsync, 300 + round * 250));

      const spool = await Spool.open({ dir, segmentBytes: 4096 });
      const records: string[] = [];
      const drained = new Map<number, string>();
      try {
        for (let batch = await spool.nextBatch(Buffer.alloc(700), true); batch; batch = await spool.nextBatch(Buffer.alloc(700), true)) {
          drained.set(batch.sequence, `${batch.offset} ${batch.bytes.length} ${crc32(batch.bytes)}`);
          records.push(...recordsOf(batch).map(String));
          await spool.acknowledge(batch.sequence);
        }
        expect(spool.empty).toBe(true);
      } finally {
        await spool.close();
      }
      // Every batch, however many times it was handed out, carried the same offset and bytes.
      for (const round of rounds) {
        for (const [sequence, identity] of round.batches) {
          if (drained.has(sequence)) expect(drained.get(sequence)).toBe(identity);
          for (const other of rounds) if (other.batches.has(sequence)) expect(other.batches.get(sequence)).toBe(identity);
        }
      }
      // Sequences run from 0 without a gap; each round's records are a whole prefix, past its last durable one.
      expect([...drained.keys()].sort((a, b) => a - b)).toEqual([...drained.keys()].map((_, index) => index));
      let position = 0;
      for (const [round, { lastDurable }] of rounds.entries()) {
        let n = 0;
        while (position < records.length && records[position]!.startsWith(`${round}-`)) {
          expect(records[position]).toBe(`${round}-${n};`.padEnd(10 + ((n * 37) % 150), '.'));
          position++;
          n++;
        }
        expect(n).toBeGreaterThan(lastDurable);
      }
      expect(position).toBe(records.length);
    });
  }
});
