/**
 * Overload workloads: the same NDJSON records shipped in
 * batch mode with `concurrency: 'auto'` and with fixed concurrency 1, 4, N
 * and 4N, against (a) a server that answers 429 above N requests being
 * served and (b) a server that queues above N (latency grows, no errors).
 *
 *   npm run bench:overload -- [--runs 5] [--warmup-runs 1] [--capacity 6] [--records 40000]
 *       [--latency 20] [--high-water-mark 16384] [--max-concurrency 16] [--retry-after SECONDS] [--out FILE]
 *       [--reference [--backoff-base MS]] [--settings auto,6] [--server refuse|queue]
 *   OVERLOAD_TRACE=1 prints each run's longest backoff and retry reasons, and
 *   when the limit reached N and its first changes (ms from the start; OVERLOAD_TRACE=40: 40 of them, else 12).
 *
 * Targets ('auto' must be worth choosing without knowing the server's capacity):
 * 'auto' within 1.15× of the best fixed setting's time in
 * both; in (a) at most 5 % of its requests answered 429 (the fixed settings'
 * shares are reported too).
 *
 * The server runs in its own process (a fresh one per run, pinned to CPU 1
 * and this process to CPU 0 when `taskset` is there, as bench/infra/harness.ts
 * does for W1–W4): in one process the client's turnaround is inflated by the
 * server's work, which favours fixed 4N on the queueing server. The harness
 * itself does not fit (its sink has no capacity), hence a script of its own.
 * `--reference` sends every setting through
 * __tests__/helpers/reference-sender.ts instead of the library: figures for
 * the controller alone. Medians of `--runs` runs, with the spread (min–max);
 * the settings take turns run by run, after discarded warm-up runs.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import diagnosticsChannel from 'node:diagnostics_channel';
import { once } from 'node:events';
import { writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { parseArgs } from 'node:util';
import { startQueueingServer, startRefusingServer, type CapacityServer } from '../../__tests__/helpers/capacity-server.js';
import { batchesOf, sendBatches } from '../../__tests__/helpers/reference-sender.js';
import { AdaptiveConcurrency } from '../../lib/http/adaptive-concurrency.js';
import { FixedConcurrency } from '../../lib/http/concurrency-limiter.js';
import { DiagnosticsChannels, type BatchRetriedMessage, type BatchSentMessage, type ConcurrencyChangedMessage } from '../../lib/diagnostics.js';
import { BufferedHttpWritable, type BufferedHttpWritableOptions } from '../../lib/index.js';
import { makeRecords } from '../infra/records.js';

const { values: args } = parseArgs({
  options: {
    runs: { type: 'string', default: '5' },
    /** Runs of 'auto' and of fixed N before measuring, not counted. */
    'warmup-runs': { type: 'string', default: '1' },
    capacity: { type: 'string', default: '6' },
    records: { type: 'string', default: '40000' },
    latency: { type: 'string', default: '20' },
    'high-water-mark': { type: 'string', default: String(16 * 1024) },
    'max-concurrency': { type: 'string', default: '16' },
    'retry-after': { type: 'string' },
    out: { type: 'string' },
    reference: { type: 'boolean', default: false },
    'backoff-base': { type: 'string', default: '1000' },
    /** Only these settings, e.g. `auto,6` (default: auto, 1, 4, N, 4N). */
    settings: { type: 'string' },
    /** Only this server: 'refuse' or 'queue' (default both). */
    server: { type: 'string' },
    /** Internal: run as the server process of one run ('refuse' or 'queue'). */
    serve: { type: 'string' },
  },
});

const runs = Number(args.runs);
const warmupRuns = Number(args['warmup-runs']);
const capacity = Number(args.capacity);
const recordCount = Number(args.records);
const latencyMs = Number(args.latency);
const highWaterMark = Number(args['high-water-mark']);
const maxConcurrency = Number(args['max-concurrency']);
const traceChanges = Number(process.env.OVERLOAD_TRACE) > 1 ? Number(process.env.OVERLOAD_TRACE) : 12;

type Setting = number | 'auto';
type ServerKind = 'refuse' | 'queue';

interface RunResult {
  ms: number;
  requests: number;
  refused: number;
  maxActive: number;
  /** auto: the limit at the end and how often it moved. */
  finalLimit?: number;
  limitChanges: number;
  /** auto: the limit averaged over the run's time (how long it spent below the server's capacity). */
  meanLimit?: number;
  error?: string;
}

/** The options for one setting. */
function optionsFor(setting: Setting): BufferedHttpWritableOptions {
  const common: BufferedHttpWritableOptions = {
    mode: 'batch',
    highWaterMark,
    // Fixed 4N against the refusing server draws many 429s; a high limit lets it finish, so its time is comparable.
    retry: { limit: 50 },
  };
  if (setting !== 'auto') return { ...common, concurrency: setting };
  return { ...common, concurrency: 'auto', maxConcurrency };
}

const ring = makeRecords();
const expectedBytes = ring.totalBytes(recordCount);
const expectedSha = (() => {
  const hash = createHash('sha256');
  for (let i = 0; i < recordCount; i++) hash.update(ring.buffers[i % ring.buffers.length]!);
  return hash.digest('hex');
})();

function startServer(kind: ServerKind): Promise<CapacityServer> {
  if (kind === 'queue') return startQueueingServer(capacity, { latencyMs });
  return startRefusingServer(capacity, { latencyMs, ...(args['retry-after'] !== undefined ? { retryAfter: args['retry-after'] } : {}) });
}

/** What the server process reports at the end of a run. */
interface ServerStats {
  requests: number;
  refused: number;
  maxActive: number;
  bytes: number;
  sha: string;
  problems: string[];
  mismatches: number;
}

/** `--serve KIND`: the server process. Prints its URL, answers 'stats' on IPC with the figures, then exits. */
async function serve(kind: ServerKind): Promise<void> {
  const server = await startServer(kind);
  process.send!({ url: server.url });
  process.once('message', () => {
    const assembled = server.assembled();
    const stats: ServerStats = {
      requests: server.requests,
      refused: server.refused,
      maxActive: server.maxActive,
      bytes: assembled.length,
      sha: createHash('sha256').update(assembled).digest('hex'),
      problems: server.problems().slice(0, 3),
      mismatches: server.mismatches,
    };
    process.send!(stats, () => void server.close().then(() => process.exit(0)));
  });
}

const hasTaskset = spawnSync('taskset', ['-c', '0', 'true']).status === 0 && (await import('node:os')).cpus().length >= 2;
const children = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of children) child.kill('SIGKILL');
});

/** A fresh server process for one run: its URL, and a function that fetches its figures and ends it. */
async function startServerProcess(kind: ServerKind): Promise<{ url: string; finish(): Promise<ServerStats> }> {
  const script = fileURLToPath(import.meta.url);
  const forwarded = [
    '--serve',
    kind,
    '--capacity',
    String(capacity),
    '--latency',
    String(latencyMs),
    ...(args['retry-after'] !== undefined ? ['--retry-after', args['retry-after']] : []),
  ];
  const command = [...(hasTaskset ? ['taskset', '-c', '1'] : []), process.execPath, script, ...forwarded];
  const child = spawn(command[0]!, command.slice(1), { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  children.add(child);
  child.on('exit', () => children.delete(child));
  const [{ url }] = (await once(child, 'message')) as [{ url: string }];
  return {
    url,
    finish: async () => {
      const stats = once(child, 'message') as Promise<[ServerStats]>;
      child.send('stats');
      const [result] = await stats;
      if (child.exitCode === null) await once(child, 'exit');
      return result;
    },
  };
}

/** `--reference`: the same records, batched as the core does, sent by the reference sender. */
async function runReference(url: string, setting: Setting): Promise<{ ms: number; error?: string; finalLimit?: number; limitChanges: number }> {
  let limitChanges = 0;
  const limiter = setting === 'auto' ? new AdaptiveConcurrency({ max: maxConcurrency, onChange: () => limitChanges++ }) : new FixedConcurrency(setting);
  const batches = batchesOf(
    Array.from({ length: recordCount }, (_each, i) => ring.buffers[i % ring.buffers.length]!),
    highWaterMark,
  );
  const started = performance.now();
  try {
    await sendBatches(url, batches, { limiter, backoffBaseMs: Number(args['backoff-base']) });
  } catch (reason) {
    return { ms: performance.now() - started, error: String(reason), limitChanges };
  }
  return { ms: performance.now() - started, limitChanges, ...(setting === 'auto' ? { finalLimit: limiter.limit } : {}) };
}

async function runOnce(kind: ServerKind, setting: Setting): Promise<RunResult> {
  const server = await startServerProcess(kind);
  if (args.reference) {
    const outcome = await runReference(server.url, setting);
    const stats = await server.finish();
    const result: RunResult = {
      ms: outcome.ms,
      requests: stats.requests,
      refused: stats.refused,
      maxActive: stats.maxActive,
      limitChanges: outcome.limitChanges,
    };
    if (outcome.finalLimit !== undefined) result.finalLimit = outcome.finalLimit;
    const exact = stats.bytes === expectedBytes && stats.sha === expectedSha;
    if (outcome.error !== undefined || !exact) result.error = outcome.error ?? 'server does not hold the records exactly';
    return result;
  }
  let limitChanges = 0;
  let finalLimit: number | undefined;
  const upload = new BufferedHttpWritable(server.url, optionsFor(setting));
  // The limit is the transport's, known once the stream is ready (a fixed setting never changes it).
  await once(upload, 'ready');
  // The limit over time, for its time-weighted mean: [since, limit].
  let limitSince = performance.now();
  let limitNow = upload.concurrency;
  let limitArea = 0;
  const trace: string[] = [];
  let reachedCapacityAt: number | undefined;
  const onChange = (message: unknown): void => {
    const change = message as ConcurrencyChangedMessage;
    if (change.upload !== upload) return;
    limitChanges++;
    finalLimit = change.limit;
    const now = performance.now();
    if (trace.length < traceChanges) trace.push(`${(now - started).toFixed(0)}:${change.previous}→${change.limit} ${change.reason}`);
    if (reachedCapacityAt === undefined && change.limit >= capacity) reachedCapacityAt = now - started;
    limitArea += limitNow * (now - limitSince);
    limitSince = now;
    limitNow = change.limit;
  };
  diagnosticsChannel.subscribe(DiagnosticsChannels.concurrencyChanged, onChange);
  // The longest wait any batch was given, and why: a long tail is one batch's backoff.
  let longestWait = 0;
  const waits = new Map<string, number>();
  const onRetried = (message: unknown): void => {
    const retried = message as BatchRetriedMessage;
    if (retried.upload !== upload) return;
    const why = `${retried.reason} ${retried.statusCode ?? retried.code ?? ''}`.trim();
    waits.set(why, (waits.get(why) ?? 0) + 1);
    longestWait = Math.max(longestWait, retried.delayMs);
  };
  diagnosticsChannel.subscribe(DiagnosticsChannels.batchRetried, onRetried);
  // Traced: when each attempt was sent, with the limit and the attempts in flight then, so that a
  // 429 in the trace says which limit sent the refused attempt.
  const sentAt = new Map<string, { at: number; limit: number; inFlight: number }>();
  const onSent = (message: unknown): void => {
    const sent = message as BatchSentMessage;
    if (sent.upload === upload) sentAt.set(`${sent.key}/${sent.attempt}`, { at: performance.now() - started, limit: sent.limit, inFlight: sent.inFlight });
  };
  const onRefused = (message: unknown): void => {
    const retried = message as BatchRetriedMessage;
    if (retried.upload !== upload || retried.statusCode !== 429 || trace.length >= traceChanges) return;
    const sent = sentAt.get(`${retried.key}/${retried.attempt}`);
    const when = sent === undefined ? '' : ` sent ${sent.at.toFixed(0)} at ${sent.inFlight}/${sent.limit}`;
    trace.push(`${(performance.now() - started).toFixed(0)}:429(#${retried.sequence}${when})`);
  };
  if (process.env.OVERLOAD_TRACE && setting === 'auto') {
    diagnosticsChannel.subscribe(DiagnosticsChannels.batchSent, onSent);
    diagnosticsChannel.subscribe(DiagnosticsChannels.batchRetried, onRefused);
  }
  const records = Readable.from(
    (function* () {
      for (let i = 0; i < recordCount; i++) yield ring.buffers[i % ring.buffers.length]!;
    })(),
  );
  const started = performance.now();
  let error: string | undefined;
  try {
    await pipeline(records, upload);
  } catch (reason) {
    error = reason instanceof Error ? `${(reason as { code?: string }).code ?? reason.name}: ${reason.message}` : String(reason);
  }
  const ms = performance.now() - started;
  limitArea += limitNow * (performance.now() - limitSince);
  diagnosticsChannel.unsubscribe(DiagnosticsChannels.concurrencyChanged, onChange);
  diagnosticsChannel.unsubscribe(DiagnosticsChannels.batchRetried, onRetried);
  diagnosticsChannel.unsubscribe(DiagnosticsChannels.batchSent, onSent);
  diagnosticsChannel.unsubscribe(DiagnosticsChannels.batchRetried, onRefused);
  if (process.env.OVERLOAD_TRACE) {
    process.stderr.write(`  ${kind} ${setting}: ${ms.toFixed(0)} ms, longest wait ${longestWait} ms, retries ${JSON.stringify([...waits])}\n`);
    if (setting === 'auto') process.stderr.write(`    limit reached ${capacity} at ${reachedCapacityAt?.toFixed(0) ?? '-'} ms; ${trace.join(', ')}\n`);
  }
  finalLimit ??= upload.concurrency;
  const stats = await server.finish();
  if (!error) {
    // Every record exactly once, in order by offset, none split: else the figures mean nothing.
    if (stats.bytes !== expectedBytes || stats.sha !== expectedSha || stats.problems.length > 0 || stats.mismatches > 0) {
      error = `server holds ${stats.bytes}/${expectedBytes} bytes${stats.sha === expectedSha ? '' : ', sha256 differs'}; ${stats.problems.join('; ')}`;
    }
  }
  const result: RunResult = { ms, requests: stats.requests, refused: stats.refused, maxActive: stats.maxActive, limitChanges };
  if (finalLimit !== undefined) result.finalLimit = finalLimit;
  if (setting === 'auto') result.meanLimit = limitArea / ms;
  if (error) result.error = error;
  return result;
}

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
};

interface Row {
  setting: Setting;
  ms: number;
  msMin: number;
  msMax: number;
  refusedMin: number;
  refusedMax: number;
  requests: number;
  refusedShare: number;
  maxActive: number;
  finalLimit?: number;
  limitChanges: number;
  meanLimit?: number;
  errors: string[];
}

/** The row of one setting, from its runs. */
function summarize(setting: Setting, results: RunResult[]): Row {
  const ok = results.filter((result) => !result.error);
  const pick = ok.length > 0 ? ok : results;
  const row: Row = {
    setting,
    ms: median(pick.map((result) => result.ms)),
    msMin: Math.min(...pick.map((result) => result.ms)),
    msMax: Math.max(...pick.map((result) => result.ms)),
    refusedMin: Math.min(...pick.map((result) => result.refused / Math.max(1, result.requests))),
    refusedMax: Math.max(...pick.map((result) => result.refused / Math.max(1, result.requests))),
    requests: median(pick.map((result) => result.requests)),
    refusedShare: median(pick.map((result) => result.refused / Math.max(1, result.requests))),
    maxActive: Math.max(...pick.map((result) => result.maxActive)),
    limitChanges: median(pick.map((result) => result.limitChanges)),
    errors: results.flatMap((result) => (result.error ? [result.error] : [])),
  };
  const limits = pick.flatMap((result) => (result.finalLimit === undefined ? [] : [result.finalLimit]));
  if (limits.length > 0) row.finalLimit = median(limits);
  const means = pick.flatMap((result) => (result.meanLimit === undefined ? [] : [result.meanLimit]));
  if (means.length > 0) row.meanLimit = median(means);
  return row;
}

function table(kind: ServerKind, rows: Row[]): string[] {
  const title =
    kind === 'refuse'
      ? `(a) 429 above ${capacity} being served${args['retry-after'] !== undefined ? ` (Retry-After: ${args['retry-after']})` : ' (no Retry-After)'}`
      : `(b) queue above ${capacity} being served (latency grows, no errors)`;
  const lines = [
    `### ${title}`,
    '',
    '| concurrency | time (median) | spread (min–max) | requests | answered 429 (median, min–max) | max served at once | final limit | mean limit over time | limit changes | failed runs |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |',
  ];
  const percent = (share: number): string => (share * 100).toFixed(1);
  for (const row of rows) {
    lines.push(
      `| ${row.setting} | ${row.ms.toFixed(0)} ms | ${row.msMin.toFixed(0)}–${row.msMax.toFixed(0)} ms | ${row.requests} | ${percent(row.refusedShare)} % (${percent(row.refusedMin)}–${percent(row.refusedMax)}) | ${row.maxActive} | ${row.finalLimit ?? '-'} | ${row.meanLimit?.toFixed(1) ?? '-'} | ${row.setting === 'auto' ? row.limitChanges : '-'} | ${row.errors.length > 0 ? `${row.errors.length}/${runs}: ${row.errors[0]}` : '0'} |`,
    );
  }
  const fixed = rows.filter((row) => row.setting !== 'auto' && row.errors.length < runs);
  const auto = rows.find((row) => row.setting === 'auto');
  if (fixed.length > 0) {
    const best = fixed.reduce((a, b) => (b.ms < a.ms ? b : a));
    lines.push('', `Best fixed: ${best.setting} (${best.ms.toFixed(0)} ms).`);
    if (auto && auto.errors.length < runs) {
      const ratio = auto.ms / best.ms;
      lines.push(`'auto' / best fixed = ${ratio.toFixed(2)}× (target ≤ 1.15×: ${ratio <= 1.15 ? 'met' : 'missed'}).`);
      if (kind === 'refuse')
        lines.push(
          `'auto' answered 429: ${(auto.refusedShare * 100).toFixed(1)} % of its requests (target ≤ 5 %: ${auto.refusedShare <= 0.05 ? 'met' : 'missed'}).`,
        );
    }
  }
  lines.push('');
  return lines;
}

async function main(): Promise<void> {
  // The client on CPU 0; each server process on CPU 1.
  if (hasTaskset) spawnSync('taskset', ['-a', '-p', '-c', '0', String(process.pid)]);
  const settings: Setting[] =
    args.settings !== undefined
      ? args.settings.split(',').map((each) => (each === 'auto' ? 'auto' : Number(each)))
      : ['auto', ...new Set([1, 4, capacity, 4 * capacity])];
  const lines = [
    '## Overload',
    '',
    "`npm run bench:overload -- --out bench/notes/overload.md` (bench/drivers/overload.ts). The same NDJSON records shipped in batch mode with `concurrency: 'auto'` and with fixed concurrency 1, 4, N and 4N, against (a) a server that answers 429 above N requests being served and (b) one that queues above N. Every run checks that the server holds every record exactly once, in order by offset, none split.",
    '',
    `${recordCount} records (${(expectedBytes / 1024 / 1024).toFixed(1)} MiB), highWaterMark ${highWaterMark} B, server latency ${latencyMs} ms per request, N = ${capacity}, 'auto' with maxConcurrency ${maxConcurrency}; median of ${runs} runs, the settings taking turns run by run after ${warmupRuns} discarded run(s) of 'auto' and of ${capacity}; retry limit 50 for every setting. Server in its own process (${hasTaskset ? 'client on CPU 0, server on CPU 1' : 'not pinned'}), a fresh one per run.`,
    '',
  ];
  if (args.reference)
    lines.push(`Sent by the reference sender (__tests__/helpers/reference-sender.ts), not the library; first backoff ceiling ${args['backoff-base']} ms.`, '');
  for (const kind of args.server !== undefined ? [args.server as ServerKind] : (['refuse', 'queue'] as const)) {
    // Discarded runs first: whichever setting ran first in this process paid for the JIT and
    // got's first requests (measured: 'auto' first 1.22–1.32× fixed N, second 1.08×, same build).
    for (let run = 0; run < warmupRuns; run++) for (const setting of new Set<Setting>(['auto', capacity])) await runOnce(kind, setting);
    // Settings take turns run by run, so a busy spell of the shared machine falls on all of them.
    const results = new Map<Setting, RunResult[]>(settings.map((setting) => [setting, []]));
    for (let run = 0; run < runs; run++) {
      for (const setting of settings) {
        const result = await runOnce(kind, setting);
        results.get(setting)!.push(result);
        const share = ((100 * result.refused) / Math.max(1, result.requests)).toFixed(1);
        process.stderr.write(`${kind} ${setting} run ${run + 1}: ${result.ms.toFixed(0)} ms, ${result.refused}/${result.requests} answered 429 (${share} %)\n`);
      }
    }
    lines.push(
      ...table(
        kind,
        settings.map((setting) => summarize(setting, results.get(setting)!)),
      ),
    );
  }
  const report = lines.join('\n');
  console.log(report);
  if (args.out) await writeFile(args.out, `${report}\n`);
}

if (args.serve !== undefined) await serve(args.serve as ServerKind);
else await main();
