/**
 * `npm run bench` — runs every workload (file upload, small writes, records, memory, highWaterMark sweep) and writes BENCHMARKS.md.
 *
 *   --quick        small inputs, one run each (under a minute); writes bench/results/BENCHMARKS-partial.md (as does --only)
 *   --runs N       runs per case (default 5; quick 1)
 *   --only A,B     only the groups whose id starts with A or B (C1, W1, W2, W3, W4, S1, S2, HWM)
 *   --out FILE     where to write the report
 *   --no-profile   skip the CPU profiles of the library (--quick skips them unless --profile is given)
 *   --report-from F  write the report again from a saved bench/results/*.json, running nothing
 *
 * The test file lives in a fresh temp dir that is removed at the end, also on
 * Ctrl-C; every child process is killed on the way out.
 */
import { mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { DEFAULT_HIGH_WATER_MARK } from '../../lib/index.js';
import { makeInputFile } from '../infra/input-file.js';
import { benchTempDir, measure, measureCommand, pinning, type Measurement, type TaskSpec } from '../infra/harness.js';
import { summarizeProfile, type ProfileSummary } from '../infra/profile.js';
import { ROOT, RESULTS } from '../infra/paths.js';
import { writeReport, type RunRecord } from '../infra/report.js';
import { MiB, formatBytes, ms, summarize, type Summary } from '../infra/stats.js';
import { checkTargets, type Results } from '../infra/targets.js';
import { workloads, type Config, type Group } from '../infra/workloads.js';

interface Args {
  quick: boolean;
  runs?: number;
  only?: string[];
  out?: string;
  profile: boolean;
  reportFrom?: string;
}

function parseArgs(argv: string[]): Args {
  const args: Args = { quick: false, profile: true };
  if (argv.includes('--quick')) args.profile = argv.includes('--profile');
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--quick') args.quick = true;
    else if (arg === '--no-profile') args.profile = false;
    else if (arg === '--profile') args.profile = true;
    else if (arg === '--runs') args.runs = Number(argv[++i]);
    else if (arg === '--only') args.only = (argv[++i] ?? '').split(',');
    else if (arg === '--out') args.out = argv[++i];
    else if (arg === '--report-from') args.reportFrom = argv[++i];
    else throw new TypeError(`bench: unknown argument ${arg} (see bench/drivers/run.ts)`);
  }
  return args;
}

function configFor(args: Args, file: string): Config {
  const common = { file, latencyMs: 10, tunedHighWaterMark: 4 * MiB, sweep: [64 * 1024, 256 * 1024, MiB, 4 * MiB] };
  if (args.quick) {
    return {
      ...common,
      quick: true,
      uploadBytes: 48 * MiB,
      writes: 100_000,
      records: 3_000,
      latencyBatchSize: 16 * 1024,
      memorySizes: [8 * MiB, 32 * MiB],
      slowRate: 128 * MiB,
      runs: args.runs ?? 1,
    };
  }
  return {
    ...common,
    quick: false,
    uploadBytes: 1024 * MiB,
    writes: 2_000_000,
    records: 200_000,
    latencyBatchSize: 64 * 1024,
    memorySizes: [64 * MiB, 1024 * MiB],
    slowRate: 128 * MiB,
    runs: args.runs ?? 5,
  };
}

async function runGroup(group: Group, results: Results, failures: Map<string, string>): Promise<void> {
  const measured = new Map<string, Measurement[]>();
  const failed = new Set<string>();
  for (let run = 0; run < group.runs; run++) {
    for (const item of group.cases) {
      if (failed.has(item.id) || run >= (item.runs ?? group.runs)) continue;
      if (group.settleDisk) spawnSync('sync');
      try {
        const m = item.task.task === 'command' ? await measureCommand(item.task, item.sink) : await measure(item.task, item.sink, [], item.env);
        measured.set(item.id, [...(measured.get(item.id) ?? []), m]);
        process.stderr.write(`  ${group.id} ${item.id} run ${run + 1}: wall ${ms(m.wallMs)}, transfer ${ms(m.ms)}, rss ${formatBytes(m.maxRss)}\n`);
      } catch (error) {
        failed.add(item.id);
        const message = (error as Error).message.split('\n').find((line) => /Error|error/.test(line)) ?? (error as Error).message;
        failures.set(`${group.id}/${item.id}`, message.slice(0, 160));
        process.stderr.write(`  ${group.id} ${item.id}: FAILED ${message}\n`);
      }
    }
  }
  const summaries = new Map<string, Summary>();
  for (const [id, list] of measured) summaries.set(id, summarize(list));
  results.set(group.id, summaries);
}

/** One profiled run of a task; returns the summary of the client's profile. */
async function profile(task: TaskSpec, directory: string): Promise<ProfileSummary> {
  rmSync(directory, { recursive: true, force: true });
  await measure(task, {}, ['--cpu-prof', `--cpu-prof-dir=${directory}`]);
  const file = readdirSync(directory).find((name) => name.endsWith('.cpuprofile'));
  if (!file) throw new Error('no .cpuprofile written');
  return summarizeProfile(path.join(directory, file));
}

/** Rebuilds a run's record from its saved JSON (the report's text may have changed since). */
function loadRecord(file: string): RunRecord {
  const raw = JSON.parse(readFileSync(file, 'utf8')) as Omit<RunRecord, 'results' | 'failures' | 'startedAt'> & {
    results: Record<string, Record<string, Summary>>;
    failures: Record<string, string>;
    startedAt: string;
  };
  return {
    ...raw,
    startedAt: new Date(raw.startedAt),
    results: new Map(Object.entries(raw.results).map(([id, cases]) => [id, new Map(Object.entries(cases))])),
    failures: new Map(Object.entries(raw.failures)),
  };
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  if (args.reportFrom) {
    const record = loadRecord(args.reportFrom);
    const out = args.out ?? path.join(ROOT, 'BENCHMARKS.md');
    writeFileSync(out, writeReport(record));
    process.stderr.write(`bench: wrote ${path.relative(process.cwd(), out)} from ${args.reportFrom}\n`);
    return;
  }
  const started = performance.now();
  const startedAt = new Date();
  const temp = benchTempDir('bhw-bench-');

  const config = configFor(args, path.join(temp, 'input.bin'));
  const groups = workloads(config).filter((group) => !args.only || args.only.some((prefix) => group.id.startsWith(prefix)));
  const fileBytes = Math.max(config.uploadBytes, config.memorySizes[1]);
  process.stderr.write(`bench: ${config.quick ? 'quick' : 'full'} run, ${formatBytes(fileBytes)} test file in ${temp}; ${pinning.description}\n`);
  makeInputFile(config.file, fileBytes);

  const results: Results = new Map();
  const failures = new Map<string, string>();
  for (const group of groups) {
    process.stderr.write(`${group.title}\n`);
    await runGroup(group, results, failures);
  }
  const checks = checkTargets(results, config);

  const profiles: RunRecord['profiles'] = [];
  if (args.profile) {
    const profileDir = path.join(temp, 'profiles');
    const tasks: Array<[string, TaskSpec]> = [
      ['W1 64 KiB reads, default options', { task: 'upload', peer: 'bhw', file: config.file, bytes: config.uploadBytes, readSize: 64 * 1024 }],
      ['W1 1 MiB reads, default options', { task: 'upload', peer: 'bhw', file: config.file, bytes: config.uploadBytes, readSize: MiB }],
      ['W2 strings, default options', { task: 'writes', peer: 'bhw', count: config.writes, kind: 'string' }],
      ['W2 strings, http.request direct (for comparison)', { task: 'writes', peer: 'http.request', count: config.writes, kind: 'string' }],
      ['W3 batch, default options', { task: 'records', peer: 'bhw:batch', count: config.records }],
    ];
    for (const [title, task] of tasks) {
      try {
        profiles.push({ title, summary: await profile(task, profileDir) });
      } catch (error) {
        process.stderr.write(`  profile ${title}: FAILED ${(error as Error).message}\n`);
      }
    }
  }

  const record: RunRecord = {
    config,
    groups,
    results,
    failures,
    checks,
    profiles,
    pinning: pinning.description,
    startedAt,
    durationMs: performance.now() - started,
    defaultHighWaterMark: DEFAULT_HIGH_WATER_MARK,
  };
  const resultsDir = RESULTS;
  mkdirSync(resultsDir, { recursive: true });
  const stamp = startedAt.toISOString().replace(/[:.]/g, '-');
  const raw = {
    ...record,
    results: Object.fromEntries([...results].map(([id, map]) => [id, Object.fromEntries(map)])),
    failures: Object.fromEntries(failures),
  };
  writeFileSync(path.join(resultsDir, `${stamp}${config.quick ? '-quick' : ''}.json`), JSON.stringify(raw, null, 2));
  const out = args.out ?? (config.quick || args.only ? path.join(resultsDir, 'BENCHMARKS-partial.md') : path.join(ROOT, 'BENCHMARKS.md'));
  writeFileSync(out, writeReport(record));

  process.stderr.write(`\nTargets${config.quick ? ' (quick run: inputs too small for the verdicts to mean anything; start-up dominates)' : ''}:\n`);
  for (const check of checks) {
    process.stderr.write(`  ${check.met === undefined ? '  ?  ' : check.met ? ' met ' : ' MISS'} ${check.workload}: ${check.target} — ${check.measured}\n`);
  }
  process.stderr.write(`bench: wrote ${path.relative(process.cwd(), out)} in ${ms(performance.now() - started)}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exitCode = 1;
});
