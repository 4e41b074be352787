/**
 * The workloads as groups of cases. Every case in a group runs in
 * the same interleaved loop (run 1 of each case, then run 2 of each, …) so a
 * noisy moment hits all peers alike; each group names the case its ratios
 * are taken against (`http.request` wherever the workload has one).
 */
import type { CommandSpec, SinkOptions, TaskSpec } from './harness.js';
import { BHW } from './paths.js';
import { MiB } from './stats.js';
import type { UploadPeer } from '../peers/upload-peers.js';

export interface BenchCase {
  id: string;
  label: string;
  task: TaskSpec | CommandSpec;
  sink?: SinkOptions;
  /** Fewer runs than the group's (very slow peers). */
  runs?: number;
  /** Added to the client's environment. */
  env?: Record<string, string>;
}

export interface Group {
  id: string;
  title: string;
  /** What the group measures and how, for the report. */
  about: string;
  /** The case the ratios are taken against. */
  baseline: string;
  runs: number;
  /**
   * Flush the page cache's dirty data (`sync`, not timed) before each case:
   * a spool case leaves up to a GiB for the kernel to write back, which
   * otherwise lands on whichever case runs next.
   */
  settleDisk?: boolean;
  cases: BenchCase[];
}

export interface Config {
  quick: boolean;
  file: string;
  /** W1 input size. */
  uploadBytes: number;
  /** W2 writes. */
  writes: number;
  /** W3 records. */
  records: number;
  /** W3: answer latency of the sink, and the batch size used against it. */
  latencyMs: number;
  latencyBatchSize: number;
  /** W4: the two input sizes and the sink's read rate. */
  memorySizes: [number, number];
  slowRate: number;
  runs: number;
  /** This library's `highWaterMark` when "tuned". */
  tunedHighWaterMark: number;
  sweep: number[];
}

const UPLOAD_LABELS: Record<UploadPeer, string> = {
  bhw: 'buffered-http-writable',
  'bhw:uploadFile': 'buffered-http-writable uploadFile (reads into the pool)',
  'http.request': 'http.request piping',
  'got.stream': 'got.stream.post piping',
  'undici.request': 'undici.request, stream body',
  fetch: "fetch, stream body (duplex: 'half')",
  tcp: 'raw TCP socket piping (ceiling)',
  'floor:file-read': 'floor: file read alone',
  'floor:tcp-1MiB-writes': 'floor: raw TCP fed 1 MiB writes from memory',
  'floor:tcp-double-buffer': "floor: this library's buffering on raw TCP (2 × 1 MiB, copied; no HTTP)",
};

function uploadCase(peer: UploadPeer, config: Config, bytes: number, readSize: number, extra: Partial<BenchCase> = {}, highWaterMark?: number): BenchCase {
  return {
    id: peer,
    label: UPLOAD_LABELS[peer],
    task: { task: 'upload', peer, file: config.file, bytes, readSize, ...(highWaterMark === undefined ? {} : { highWaterMark }) },
    ...extra,
  };
}

function fileUpload(config: Config, readSize: number): Group {
  const bytes = config.uploadBytes;
  const tuned = config.tunedHighWaterMark;
  // Reading and sending share the client's one CPU: the two floors add up.
  const peers: UploadPeer[] = [
    'http.request',
    'got.stream',
    'undici.request',
    'fetch',
    'tcp',
    'floor:tcp-double-buffer',
    'floor:file-read',
    'floor:tcp-1MiB-writes',
  ];
  return {
    id: readSize === MiB ? 'W1-1MiB' : 'W1-64KiB',
    title: `W1 file upload, ${readSize === MiB ? '1 MiB' : '64 KiB (default)'} reads`,
    about: `${bytes / MiB} MiB from the page cache via \`fs.createReadStream({ highWaterMark: ${readSize / 1024} KiB })\`, piped to the HTTP sink (raw TCP sink for the TCP rows).`,
    baseline: 'http.request',
    runs: config.runs,
    cases: [
      uploadCase('bhw', config, bytes, readSize, { id: 'bhw', label: 'buffered-http-writable, default options' }),
      uploadCase('bhw', config, bytes, readSize, { id: 'bhw-tuned', label: `buffered-http-writable, highWaterMark ${tuned / MiB} MiB` }, tuned),
      uploadCase('bhw:uploadFile', config, bytes, readSize, { id: 'bhw-uploadFile', label: 'buffered-http-writable uploadFile, default options' }),
      uploadCase(
        'bhw:uploadFile',
        config,
        bytes,
        readSize,
        { id: 'bhw-uploadFile-tuned', label: `buffered-http-writable uploadFile, highWaterMark ${tuned / MiB} MiB` },
        tuned,
      ),
      ...peers.map((peer) => uploadCase(peer, config, bytes, readSize)),
    ],
  };
}

/**
 * glibc settings that keep freed heap memory for reuse instead of giving it
 * back to the kernel (and taking page faults to get it again): on this kind
 * of VM a page fault costs ~13 µs, and W1's times follow the fault count.
 */
export const KEEP_FREED_MEMORY = 'glibc.malloc.trim_threshold=536870912:glibc.malloc.mmap_threshold=33554432';

/** W1 (64 KiB reads) again with the allocator keeping freed memory: what is left once page faults are out of the way. */
function fileUploadKeepingMemory(config: Config): Group {
  const bytes = config.uploadBytes;
  const readSize = 64 * 1024;
  const env = { GLIBC_TUNABLES: KEEP_FREED_MEMORY };
  const peers: UploadPeer[] = ['http.request', 'got.stream', 'undici.request', 'tcp', 'floor:tcp-double-buffer', 'floor:file-read', 'floor:tcp-1MiB-writes'];
  return {
    id: 'W1-64KiB-kept-memory',
    title: "W1 file upload, 64 KiB reads, glibc's heap trimming off",
    about: `The W1 64 KiB cases again, every client run with \`GLIBC_TUNABLES=${KEEP_FREED_MEMORY}\`: glibc keeps freed memory for reuse instead of returning it to the kernel, so the producer's read buffers land on pages the process already has. A diagnostic, not a recommendation: it shows how much of W1's time is page faults on this VM.`,
    baseline: 'http.request',
    runs: config.runs,
    cases: [
      uploadCase('bhw', config, bytes, readSize, { id: 'bhw', label: 'buffered-http-writable, default options', env }),
      uploadCase(
        'bhw',
        config,
        bytes,
        readSize,
        { id: 'bhw-tuned', label: `buffered-http-writable, highWaterMark ${config.tunedHighWaterMark / MiB} MiB`, env },
        config.tunedHighWaterMark,
      ),
      ...peers.map((peer) => uploadCase(peer, config, bytes, readSize, { env })),
    ],
  };
}

function smallWrites(config: Config, kind: 'string' | 'buffer'): Group {
  const count = config.writes;
  const task = (peer: 'bhw' | 'http.request' | 'got.stream'): TaskSpec => ({ task: 'writes', peer, count, kind });
  return {
    id: `W2-${kind}`,
    title: `W2 small writes, ${kind}s`,
    about: `${count.toLocaleString('en')} writes of ~100 B NDJSON ${kind}s straight into each writable, waiting for \`'drain'\` when \`write()\` returns false.`,
    baseline: 'http.request',
    runs: config.runs,
    cases: [
      { id: 'bhw', label: 'buffered-http-writable, default options', task: task('bhw') },
      { id: 'http.request', label: 'http.request, written directly', task: task('http.request') },
      { id: 'got.stream', label: 'got.stream.post, written directly', task: task('got.stream'), runs: Math.min(config.runs, 3) },
    ],
  };
}

function records(config: Config): Group[] {
  const count = config.records;
  return [
    {
      id: 'W3-per-record',
      title: 'W3 records: batch vs one request per record',
      about: `${count.toLocaleString('en')} NDJSON records (~100 B) to a sink that answers at once. Per record: one POST each, one after the other, over a keep-alive agent.`,
      baseline: 'http.request:per-record',
      runs: Math.min(config.runs, 3),
      cases: [
        { id: 'bhw:batch', label: "buffered-http-writable, mode 'batch', default options", task: { task: 'records', peer: 'bhw:batch', count } },
        {
          id: 'http.request:per-record',
          label: 'http.request per record, keep-alive agent',
          task: { task: 'records', peer: 'http.request:per-record', count },
        },
        { id: 'got:per-record', label: 'got.post per record, keep-alive agent', task: { task: 'records', peer: 'got:per-record', count }, runs: 1 },
      ],
    },
    {
      id: 'W3-latency',
      title: `W3 records: batch concurrency 1 vs 4, sink answering after ${config.latencyMs} ms`,
      about: `${count.toLocaleString('en')} records in ${config.latencyBatchSize / 1024} KiB batches; every answer of the sink is delayed ${config.latencyMs} ms. One request per record would take ${((count * config.latencyMs) / 1000).toFixed(0)} s here and is not run; the ratios are to concurrency 1.`,
      baseline: 'batch-c1',
      runs: config.runs,
      cases: [1, 4].map((concurrency) => ({
        id: `batch-c${concurrency}`,
        label: `buffered-http-writable, mode 'batch', concurrency ${concurrency}`,
        task: { task: 'records', peer: 'bhw:batch', count, concurrency, highWaterMark: config.latencyBatchSize },
        sink: { latency: config.latencyMs },
      })),
    },
  ];
}

/** The spool: the same records with it off, on, and on with fdatasync; dd shows what the disk itself takes. */
function spool(config: Config): Group[] {
  const small = config.quick ? 200_000 : 2_000_000;
  const large = config.quick ? 64 : 1024;
  const variants = (count: number, recordBytes?: number): BenchCase[] => [
    { id: 'spool-off', label: "mode 'batch', no spool", task: { task: 'records', peer: 'bhw:batch', count, ...(recordBytes ? { recordBytes } : {}) } },
    { id: 'spool-on', label: "mode 'batch', spool", task: { task: 'records', peer: 'bhw:batch', count, spool: 'on', ...(recordBytes ? { recordBytes } : {}) } },
    {
      id: 'spool-fsync',
      label: "mode 'batch', spool with fsync: true",
      task: { task: 'records', peer: 'bhw:batch', count, spool: 'fsync', ...(recordBytes ? { recordBytes } : {}) },
    },
  ];
  return [
    {
      id: 'S1-small-records',
      title: `Spool: ${small.toLocaleString('en')} records of ~100 B`,
      about:
        'The W3 records in batch mode (default options) to a sink that answers at once, with no spool, a spool, and a spool with `fsync: true`; each spool in a fresh temp dir on the same disk.',
      baseline: 'spool-off',
      runs: config.runs,
      settleDisk: true,
      cases: variants(small),
    },
    {
      id: 'S2-large-records',
      title: `Spool: ${large} records of 1 MiB`,
      about:
        '1 MiB records (each larger than nothing but equal to the default highWaterMark) with no spool, a spool, a spool with `fsync: true`, and `dd if=/dev/zero bs=1M conv=fsync` of the same bytes on the same disk in the same run.',
      baseline: 'spool-off',
      runs: config.runs,
      settleDisk: true,
      cases: [
        ...variants(large, MiB),
        { id: 'dd', label: 'dd bs=1M conv=fsync (the disk alone)', task: { task: 'records', peer: 'dd:conv=fsync', count: large, recordBytes: MiB } },
      ],
    },
  ];
}

function memory(config: Config): Group {
  const peers: UploadPeer[] = ['bhw', 'http.request', 'got.stream', 'undici.request', 'fetch', 'tcp'];
  const cases: BenchCase[] = [];
  for (const bytes of config.memorySizes) {
    for (const peer of peers) {
      cases.push(
        uploadCase(peer, config, bytes, 64 * 1024, {
          id: `${peer}@${bytes}`,
          label: `${UPLOAD_LABELS[peer]}, ${bytes / MiB} MiB`,
          sink: { rate: config.slowRate },
        }),
      );
    }
  }
  return {
    id: 'W4',
    title: 'W4 memory: peak RSS uploading to a slow sink',
    about: `The file (64 KiB reads) uploaded to a sink that reads at most ${config.slowRate / MiB} MiB/s, so every client waits on backpressure. Peak RSS is the client process's \`maxRSS\`, Node itself included.`,
    baseline: `http.request@${config.memorySizes[1]}`,
    runs: Math.min(config.runs, 2),
    cases,
  };
}

function sweep(config: Config): Group[] {
  // Page faults would otherwise pick the size by chance (see W1 with trimming off).
  const env = { GLIBC_TUNABLES: KEEP_FREED_MEMORY };
  const bhw = (highWaterMark: number, task: (highWaterMark: number) => TaskSpec): BenchCase => ({
    id: `hwm-${highWaterMark}`,
    label: `highWaterMark ${highWaterMark >= MiB ? `${highWaterMark / MiB} MiB` : `${highWaterMark / 1024} KiB`}`,
    task: task(highWaterMark),
    env,
  });
  const upload =
    (readSize: number) =>
    (highWaterMark: number): TaskSpec => ({
      task: 'upload',
      peer: 'bhw',
      file: config.file,
      bytes: config.uploadBytes,
      readSize,
      highWaterMark,
    });
  const writes = (highWaterMark: number): TaskSpec => ({ task: 'writes', peer: 'bhw', count: config.writes, kind: 'string', highWaterMark });
  const groups: Array<[string, string, (hwm: number) => TaskSpec, TaskSpec]> = [
    [
      'HWM-W1-64KiB',
      'W1, 64 KiB reads',
      upload(64 * 1024),
      { task: 'upload', peer: 'http.request', file: config.file, bytes: config.uploadBytes, readSize: 64 * 1024 },
    ],
    ['HWM-W1-1MiB', 'W1, 1 MiB reads', upload(MiB), { task: 'upload', peer: 'http.request', file: config.file, bytes: config.uploadBytes, readSize: MiB }],
    ['HWM-W2', 'W2, strings', writes, { task: 'writes', peer: 'http.request', count: config.writes, kind: 'string' }],
  ];
  return groups.map(([id, title, task, baseline]) => ({
    id,
    title: `highWaterMark sweep: ${title}`,
    about: '',
    baseline: 'http.request',
    runs: config.runs,
    cases: [...config.sweep.map((hwm) => bhw(hwm, task)), { id: 'http.request', label: 'http.request (reference)', task: baseline, env }],
  }));
}

const CURL = '/usr/bin/curl';

/**
 * The CLI next to curl, the tool a user would otherwise reach for: each case is the command as a user types
 * it, measured from outside with GNU time. curl -T sends PUT (with
 * `Expect: 100-continue`, which the sink answers); the sink takes any method.
 * curl prints the sink's answer like bhw does, and `--fail` makes a non-2xx an exit code.
 */
function cliVsCurl(config: Config): Group {
  const bytes = config.uploadBytes;
  const command = (id: string, label: string, argv: string[], stdin: boolean): BenchCase => ({
    id,
    label,
    task: { task: 'command', peer: id, argv, bytes, ...(stdin ? { stdinFile: config.file } : {}) },
  });
  const bhw = [process.execPath, BHW];
  const curl = [CURL, '-sS', '--fail'];
  return {
    id: 'C1-bhw-vs-curl',
    title: `bhw next to curl -T, ${bytes / MiB} MiB from the page cache`,
    about:
      'Each row is one command, spawn to exit, under `/usr/bin/time -f` (CPU, peak RSS and minor faults of that process from `wait4`), against a fresh sink. The stdin rows get the file as their stdin, as `< file` in a shell.',
    baseline: 'curl-file',
    runs: config.runs,
    cases: [
      command('bhw-file', '`bhw file url` (default options)', [...bhw, config.file, '{url}'], false),
      command('bhw-file-sha256', '`bhw --sha256 file url`', [...bhw, '--sha256', config.file, '{url}'], false),
      command('bhw-stdin', '`bhw - url < file`', [...bhw, '-', '{url}'], true),
      command('bhw-stdin-sha256', '`bhw --sha256 - url < file`', [...bhw, '--sha256', '-', '{url}'], true),
      command('curl-file', '`curl -T file url`', [...curl, '-T', config.file, '{url}'], false),
      command('curl-stdin', '`curl -T - url < file`', [...curl, '-T', '-', '{url}'], true),
      // What every bhw row pays before its first byte: Node's start and loading the CLI.
      {
        id: 'bhw-version',
        label: 'floor: `bhw --version` (start-up alone, nothing sent)',
        task: { task: 'command', peer: 'bhw-version', argv: [...bhw, '--version'], bytes: 0 },
      },
      // What no Node program can go below: the --version target is twice this.
      {
        id: 'node-e0',
        label: 'floor: `node -e 0` (Node alone)',
        task: { task: 'command', peer: 'node-e0', argv: [process.execPath, '-e', '0'], bytes: 0 },
      },
    ],
  };
}

export function workloads(config: Config): Group[] {
  return [
    cliVsCurl(config),
    fileUpload(config, 64 * 1024),
    fileUpload(config, MiB),
    fileUploadKeepingMemory(config),
    smallWrites(config, 'string'),
    smallWrites(config, 'buffer'),
    ...records(config),
    ...spool(config),
    memory(config),
    ...sweep(config),
  ];
}
