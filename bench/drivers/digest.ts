/**
 * `npm run bench:digest` — what the `digest` option costs: each workload with
 * `digest` off and on, next to the hash alone over the same bytes (in the
 * pool's buffer size, only the hashing timed). Target: the digest adds at most
 * 10 % over the hash's own cost.
 *
 *   --quick          small inputs, 2 runs each (under a minute)
 *   --runs N         runs per case (default 5)
 *   --algorithm A    sha-256 (default) or sha-512
 *   --out FILE       write the Markdown there (bench/notes/digest.md is what BENCHMARKS.md includes); else stdout
 *
 * W1 (the file through the Writable, 64 KiB reads, and through uploadFile), W2
 * (small string writes) and batch records; batch also with a control, the
 * same hash run between the writes on a buffer of its own, which tells what
 * the digest costs beyond running a hash in that loop at all. Each case a
 * fresh client and sink process (bench/infra/harness.ts), the cases of a
 * table taking turns run by run so a noisy moment hits them alike.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { DEFAULT_HIGH_WATER_MARK, type DigestAlgorithm } from '../../lib/index.js';
import { benchTempDir, measure, pinning, type Measurement, type TaskSpec } from '../infra/harness.js';
import { makeInputFile } from '../infra/input-file.js';
import { MiB, formatBytes, median, ms } from '../infra/stats.js';

const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    runs: { type: 'string' },
    algorithm: { type: 'string', default: 'sha-256' },
    out: { type: 'string' },
  },
});
const algorithm = args.algorithm as DigestAlgorithm;
if (algorithm !== 'sha-256' && algorithm !== 'sha-512') throw new TypeError(`bench:digest: --algorithm must be sha-256 or sha-512, received ${args.algorithm}`);
const runs = Number(args.runs ?? (args.quick ? 2 : 5));
const uploadBytes = args.quick ? 64 * MiB : 1024 * MiB;
// Five times W2's and W3's counts: about 1 GB each, as W1, so that the hash (~0.6 s) stands well above what a round's runs differ by.
const writes = args.quick ? 200_000 : 10_000_000;
const records = args.quick ? 200_000 : 10_000_000;

interface DigestCase {
  id: string;
  label: string;
  task: TaskSpec;
}

/** A workload: its cases without and with the digest, and the hash alone over its bytes. */
interface DigestTable {
  title: string;
  about: string;
  /** [off, on] pairs compared with `hash`. */
  pairs: Array<[string, string]>;
  hash: string;
  /**
   * A case with the digest off that runs the same hash between the writes on
   * a buffer of its own: what any hash in that loop costs on this machine,
   * set beside what the digest adds (the pairs' `on`).
   */
  control?: string;
  cases: DigestCase[];
}

function tables(file: string): DigestTable[] {
  const hash = (input: { file: string; bytes: number } | { records: number }): DigestCase => ({
    id: 'hash',
    label: `${algorithm} alone over the same bytes`,
    task: { task: 'hash', peer: 'hash', algorithm, input, chunkSize: DEFAULT_HIGH_WATER_MARK },
  });
  const upload = (peer: 'bhw' | 'bhw:uploadFile', digest: boolean): TaskSpec => ({
    task: 'upload',
    peer,
    file,
    bytes: uploadBytes,
    readSize: 64 * 1024,
    ...(digest ? { digest: algorithm } : {}),
  });
  return [
    {
      title: `W1 file upload, ${formatBytes(uploadBytes)} (the Writable with 64 KiB reads, and uploadFile)`,
      about: 'The W1 file from the page cache, stream mode, default options.',
      pairs: [
        ['writable-off', 'writable-on'],
        ['uploadFile-off', 'uploadFile-on'],
      ],
      hash: 'hash',
      cases: [
        { id: 'writable-off', label: 'Writable, digest off', task: upload('bhw', false) },
        { id: 'writable-on', label: `Writable, digest ${algorithm}`, task: upload('bhw', true) },
        { id: 'uploadFile-off', label: 'uploadFile, digest off', task: upload('bhw:uploadFile', false) },
        { id: 'uploadFile-on', label: `uploadFile, digest ${algorithm}`, task: upload('bhw:uploadFile', true) },
        hash({ file, bytes: uploadBytes }),
      ],
    },
    {
      title: `W2 small writes, ${writes.toLocaleString('en')} strings`,
      about: 'The W2 strings (~100 B NDJSON) written straight into the Writable, stream mode, default options.',
      pairs: [['off', 'on']],
      hash: 'hash',
      cases: [
        { id: 'off', label: 'digest off', task: { task: 'writes', peer: 'bhw', count: writes, kind: 'string' } },
        { id: 'on', label: `digest ${algorithm}`, task: { task: 'writes', peer: 'bhw', count: writes, kind: 'string', digest: algorithm } },
        hash({ records: writes }),
      ],
    },
    {
      title: `Batch records, ${records.toLocaleString('en')} of ~100 B`,
      about: "The same records in mode 'batch', default options (one request per 1 MiB batch), to a sink that answers at once.",
      pairs: [['off', 'on']],
      hash: 'hash',
      control: 'control',
      cases: [
        { id: 'off', label: "mode 'batch', digest off", task: { task: 'records', peer: 'bhw:batch', count: records } },
        { id: 'on', label: `mode 'batch', digest ${algorithm}`, task: { task: 'records', peer: 'bhw:batch', count: records, digest: algorithm } },
        {
          id: 'control',
          label: `mode 'batch', digest off, ${algorithm} of ${formatBytes(DEFAULT_HIGH_WATER_MARK)} between the writes on a buffer of its own (control)`,
          task: { task: 'records', peer: 'bhw:batch', count: records, hashBetweenWrites: algorithm },
        },
        hash({ records }),
      ],
    },
  ];
}

interface Figures {
  transfer: number;
  transferMin: number;
  transferMax: number;
  cpu: number;
  cpuMin: number;
  cpuMax: number;
  runs: number;
}

function figuresOf(list: Measurement[]): Figures {
  const transfers = list.map((m) => m.ms);
  const cpus = list.map((m) => m.cpuMs);
  return {
    transfer: median(transfers),
    transferMin: Math.min(...transfers),
    transferMax: Math.max(...transfers),
    cpu: median(cpus),
    cpuMin: Math.min(...cpus),
    cpuMax: Math.max(...cpus),
    runs: list.length,
  };
}

/** Each case's measurements, in run order: run i of every case was taken in the same round. */
async function measureTable(table: DigestTable): Promise<Map<string, Measurement[]>> {
  const measured = new Map<string, Measurement[]>();
  for (let run = 0; run < runs; run++) {
    for (const item of table.cases) {
      const m = await measure(item.task);
      measured.set(item.id, [...(measured.get(item.id) ?? []), m]);
      process.stderr.write(`  ${item.label} run ${run + 1}: transfer ${ms(m.ms)}, cpu ${ms(m.cpuMs)}\n`);
    }
  }
  return measured;
}

/**
 * What `on` adds to `off`, round by round: the median of the paired
 * differences and their range. Runs of one round share the machine's state
 * of that moment, so pairing them removes most of what a busy neighbour adds
 * to both (a difference of medians does not).
 */
function addedPerRound(off: Measurement[], on: Measurement[], field: 'ms' | 'cpuMs'): { median: number; min: number; max: number } {
  const differences = on.map((m, run) => m[field] - off[run]![field]);
  return { median: median(differences), min: Math.min(...differences), max: Math.max(...differences) };
}

function signed(value: number): string {
  return value < 0 ? `−${ms(-value)}` : `+${ms(value)}`;
}

function percent(part: number, whole: number): string {
  return `${((100 * part) / whole).toFixed(0)} %`;
}

function render(table: DigestTable, measured: Map<string, Measurement[]>): string[] {
  const figures = new Map([...measured].map(([id, list]) => [id, figuresOf(list)]));
  const out = [
    `### ${table.title}`,
    '',
    table.about,
    '',
    '| case | transfer (median) | spread (min–max) | client CPU (median) | CPU (min–max) |',
    '| --- | ---: | ---: | ---: | ---: |',
  ];
  for (const item of table.cases) {
    const f = figures.get(item.id)!;
    out.push(
      `| ${item.label} | ${ms(f.transfer)} | ${ms(f.transferMin)}–${ms(f.transferMax)} (n=${f.runs}) | ${ms(f.cpu)} | ${ms(f.cpuMin)}–${ms(f.cpuMax)} |`,
    );
  }
  const hash = figures.get(table.hash)!.transfer;
  const hashCpu = figures.get(table.hash)!.cpu;
  out.push('');
  for (const [off, on] of table.pairs) {
    const label = table.cases.find((item) => item.id === on)!.label;
    const added = addedPerRound(measured.get(off)!, measured.get(on)!, 'ms');
    const addedCpu = addedPerRound(measured.get(off)!, measured.get(on)!, 'cpuMs');
    // CPU decides: on a shared machine a process waiting for its CPU inflates wall times, not CPU times.
    const met = addedCpu.median <= 1.1 * hashCpu;
    out.push(
      `- ${label}: adds ${ms(added.median)} of transfer (${percent(added.median, hash)} of the hash alone, ${ms(hash)}) and ${ms(addedCpu.median)} of CPU (${percent(addedCpu.median, hashCpu)} of the hash's own ${ms(hashCpu)}; per round ${ms(addedCpu.min)} to ${ms(addedCpu.max)}); target ≤ 110 % of the hash's CPU: **${met ? 'met' : 'not met'}**.`,
    );
    if (table.control !== undefined) {
      const control = addedPerRound(measured.get(off)!, measured.get(table.control)!, 'cpuMs');
      const digestOverControl = addedPerRound(measured.get(table.control)!, measured.get(on)!, 'cpuMs');
      out.push(
        `- The control (the same hash between the writes, not the upload's bytes): adds ${ms(control.median)} of CPU (${percent(control.median, hashCpu)} of the hash alone; per round ${ms(control.min)} to ${ms(control.max)}). The digest against the control, round by round: ${signed(digestOverControl.median)} (${signed(digestOverControl.min)} to ${signed(digestOverControl.max)}): what the digest costs beyond running that hash in this loop.`,
      );
    }
  }
  out.push('');
  return out;
}

async function main(): Promise<void> {
  const temp = benchTempDir('bhw-bench-digest-');
  const file = path.join(temp, 'input.bin');
  makeInputFile(file, uploadBytes);
  process.stderr.write(`bench:digest: ${algorithm}, ${runs} runs, ${formatBytes(uploadBytes)} file; ${pinning.description}\n`);
  const started = new Date();
  const out = [
    `## Digest: the \`digest\` option on against off`,
    '',
    `\`npm run bench:digest${args.quick ? ' -- --quick' : ''}\` (bench/drivers/digest.ts) on ${started.toISOString().slice(0, 16).replace('T', ' ')} UTC, Node ${process.version}, ${pinning.description}. Each workload with \`digest\` off and \`'${algorithm}'\`, and ${algorithm} alone over the same bytes in ${formatBytes(DEFAULT_HIGH_WATER_MARK)} updates (only the hashing timed: the file's read and the records' copy are not the hash's cost). Transfer is measured in the client from the first byte to the sink's answer; CPU is the client process's (all threads); for the hash alone both are of the hashing only. The verdict is on CPU: on a shared machine a process waiting for its CPU inflates wall times, not CPU times. Medians of ${runs} runs, the cases of a table taking turns run by run; what the digest adds is the median of the differences between the runs of one round (paired, so that a busy neighbour, which slows both runs of a round, cancels out). Target: the digest adds at most 10 % over the hash's own cost. Batch also runs a control: the digest off, and the same hash of one batch's size run between the writes on a buffer of its own (not the upload's bytes, not by the library): what running that hash in this loop costs on this machine, whoever runs it.`,
    '',
  ];
  for (const table of tables(file)) {
    process.stderr.write(`${table.title}\n`);
    out.push(...render(table, await measureTable(table)));
  }
  const text = `${out.join('\n').trim()}\n`;
  if (args.out) writeFileSync(args.out, text);
  else process.stdout.write(text);
}

main().catch((error: unknown) => {
  process.stderr.write(`bench:digest failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exitCode = 1;
});
