/**
 * Micro-benchmark of the spool storage engine alone, no HTTP:
 * `npm run build && node dist/bench/drivers/spool.js [--dir DIR] [--small | --large]`.
 *
 * Workloads: 2 M records of ~100 B, appended in groups of ~1 MiB (what one
 * `_writev` brings when the producer is fast), and 1 GiB of 1 MiB records,
 * one per append (a producer writing highWaterMark-sized chunks). Each with
 * fsync off and on, each measured twice: appends alone, and appends while a
 * consumer reads batches of 1 MiB back and acknowledges them (the spool's
 * life in batch mode). `dd bs=1M count=1024 conv=fsync` on the same disk in
 * the same run, right before each row, is the yardstick: with fsync on, the
 * spool should reach ≥ 0.5× dd's rate (what the disk does with the same
 * syncs, so the spool's own cost shows).
 * MB = 10^6 bytes, as dd prints.
 */
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Spool } from '../../lib/modes/batch/spool/index.js';
import { makeRecords } from '../infra/records.js';

interface Workload {
  name: string;
  /** The groups to append, in order, as a generator so 1 GiB is never held at once. */
  groups(): Iterable<Buffer[]>;
  records: number;
  bytes: number;
}

function smallRecords(count: number): Workload {
  const ring = makeRecords().buffers;
  const groupBytes = 1 << 20;
  return {
    name: `${count / 1e6} M records of ~100 B, ~1 MiB per append`,
    records: count,
    bytes: Array.from({ length: count }, (_, index) => ring[index % ring.length]!.length).reduce((sum, length) => sum + length, 0),
    *groups() {
      let group: Buffer[] = [];
      let size = 0;
      for (let index = 0; index < count; index++) {
        const record = ring[index % ring.length]!;
        group.push(record);
        size += record.length;
        if (size >= groupBytes) {
          yield group;
          group = [];
          size = 0;
        }
      }
      if (group.length > 0) yield group;
    },
  };
}

function largeRecords(totalBytes: number): Workload {
  const record = Buffer.alloc(1 << 20, 'r');
  const count = totalBytes / record.length;
  return {
    name: `${totalBytes / 2 ** 30} GiB of 1 MiB records, one per append`,
    records: count,
    bytes: totalBytes,
    *groups() {
      for (let index = 0; index < count; index++) yield [record];
    },
  };
}

interface Result {
  seconds: number;
}

async function run(workload: Workload, dir: string, fsync: boolean, drain: boolean): Promise<Result> {
  await rm(dir, { recursive: true, force: true });
  const spool = await Spool.open({ dir, fsync, maxBytes: 2 ** 31 });
  const started = performance.now();
  let producing = true;
  // The consumer waits for the next append (or the end) when there is nothing to cut yet, as the core would.
  let wake: (() => void) | undefined;
  const nextAppend = (): Promise<void> => new Promise((resolve) => (wake = resolve));
  const consumer = drain
    ? (async () => {
        const into = Buffer.allocUnsafe(1 << 20);
        for (;;) {
          const batch = await spool.nextBatch(into, !producing);
          if (batch) await spool.acknowledge(batch.sequence);
          else if (!producing) return;
          else await nextAppend();
        }
      })()
    : Promise.resolve();
  for (const group of workload.groups()) {
    await spool.append(group);
    wake?.();
  }
  producing = false;
  wake?.();
  await consumer;
  const seconds = (performance.now() - started) / 1000;
  if (drain && !spool.empty) throw new Error('the consumer left records in the spool');
  await spool.close();
  await rm(dir, { recursive: true, force: true });
  return { seconds };
}

function ddRate(dir: string): number {
  const file = join(dir, 'dd.bin');
  const started = performance.now();
  const result = spawnSync('dd', ['if=/dev/zero', `of=${file}`, 'bs=1M', 'count=1024', 'conv=fsync'], { encoding: 'utf8' });
  const seconds = (performance.now() - started) / 1000;
  if (result.status !== 0) throw new Error(`dd failed: ${result.stderr}`);
  spawnSync('rm', ['-f', file]);
  return 2 ** 30 / 1e6 / seconds;
}

const format = (value: number, digits = 0): string => value.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });

async function main(): Promise<void> {
  const dirArgument = process.argv.indexOf('--dir');
  const base = dirArgument > 0 ? process.argv[dirArgument + 1]! : await mkdtemp(join(tmpdir(), 'bhw-spool-bench-'));
  const dir = join(base, 'spool');
  const only = process.argv.includes('--small') ? 'small' : process.argv.includes('--large') ? 'large' : undefined;
  const workloads = [...(only !== 'large' ? [smallRecords(2_000_000)] : []), ...(only !== 'small' ? [largeRecords(2 ** 30)] : [])];
  // dd runs right before each row: on a shared VM the disk's rate drifts within a run, and the ratio is what the target is about.
  console.log('| workload | fsync | consumer | s | MB/s | records/s | dd MB/s just before | × dd |');
  console.log('| --- | --- | --- | ---: | ---: | ---: | ---: | ---: |');
  for (const workload of workloads) {
    for (const fsync of [false, true]) {
      for (const drain of [false, true]) {
        const dd = ddRate(base);
        const { seconds } = await run(workload, dir, fsync, drain);
        const rate = workload.bytes / 1e6 / seconds;
        console.log(
          `| ${workload.name} | ${fsync ? 'on' : 'off'} | ${drain ? 'reads back + acks' : 'none'} | ${format(seconds, 2)} | ${format(rate)} | ${format(workload.records / seconds)} | ${format(dd)} | ${format(rate / dd, 2)} |`,
        );
      }
    }
  }
  if (dirArgument < 0) await rm(base, { recursive: true, force: true });
}

await main();
