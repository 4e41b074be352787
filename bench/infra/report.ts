/** Writes BENCHMARKS.md from one run's figures. */
import { existsSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { NOTES, ROOT } from './paths.js';
import type { ProfileSummary } from './profile.js';
import { MiB, formatBytes, ms, ratio, spread, type Summary } from './stats.js';
import type { Results, TargetCheck } from './targets.js';
import type { Config, Group } from './workloads.js';

export interface RunRecord {
  config: Config;
  groups: Group[];
  results: Results;
  failures: Map<string, string>;
  checks: TargetCheck[];
  profiles: Array<{ title: string; summary: ProfileSummary }>;
  pinning: string;
  startedAt: Date;
  durationMs: number;
  defaultHighWaterMark: number;
}

function versionOf(name: string): string {
  try {
    return (JSON.parse(readFileSync(path.join(ROOT, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return '?';
  }
}

function osName(): string {
  try {
    return /PRETTY_NAME="([^"]+)"/.exec(readFileSync('/etc/os-release', 'utf8'))?.[1] ?? os.type();
  } catch {
    return os.type();
  }
}

export function machine(pinning: string): string[] {
  const cpus = os.cpus();
  return [
    `- CPU: ${cpus[0]?.model.trim() ?? '?'}, ${cpus.length} logical CPUs; ${formatBytes(os.totalmem())} RAM`,
    `- Node ${process.version} on ${osName()}, kernel ${os.release()} (${os.arch()})`,
    `- got ${versionOf('got')}, undici ${versionOf('undici')} (\`fetch\` is Node's own, undici ${process.versions.undici ?? '?'})`,
    `- Pinning: ${pinning}`,
  ];
}

function table(header: string[], rows: string[][]): string[] {
  return [`| ${header.join(' | ')} |`, `| ${header.map(() => '---').join(' | ')} |`, ...rows.map((row) => `| ${row.join(' | ')} |`)];
}

function groupTable(group: Group, results: Map<string, Summary> | undefined, failures: Map<string, string>): string[] {
  const base = results?.get(group.baseline);
  const baseLabel = group.cases.find((c) => c.id === group.baseline)?.label ?? group.baseline;
  const rows = group.cases.map((item) => {
    const summary = results?.get(item.id);
    if (!summary) return [item.label, `failed: ${failures.get(`${group.id}/${item.id}`) ?? 'not run'}`, '', '', '', '', '', '', '', ''];
    const mbps = summary.bytes / MiB / (summary.transfer / 1000);
    return [
      item.label,
      ms(summary.wall),
      summary.runs < 2 ? 'n=1' : `${spread(summary)} (n=${summary.runs})`,
      base ? ratio(summary.wall / base.wall) : '–',
      ms(summary.transfer),
      base ? ratio(summary.transfer / base.transfer) : '–',
      `${mbps.toFixed(0)} MiB/s`,
      ms(summary.cpu),
      formatBytes(summary.rssMax),
      summary.pageFaults === undefined ? '–' : thousands(summary.pageFaults),
    ];
  });
  return [
    `Ratios are to **${baseLabel}** in the same run (below 1 = faster).`,
    '',
    ...table(['case', 'wall (median)', 'spread', '× wall', 'transfer (median)', '× transfer', 'transfer rate', 'client CPU', 'peak RSS', 'page faults'], rows),
  ];
}

function thousands(count: number): string {
  return count >= 1000 ? `${(count / 1000).toFixed(1)} k` : count.toFixed(0);
}

/** The W1 groups, in report order. */
const W1_GROUPS = ['W1-64KiB', 'W1-1MiB', 'W1-64KiB-kept-memory'];

/** W1 run by run for the library and http.request: the spread is two groups of runs, told apart by page faults. */
function runByRun(record: RunRecord): string[] {
  const lines: string[] = [];
  for (const id of W1_GROUPS) {
    const results = record.results.get(id);
    for (const caseId of ['bhw', 'http.request']) {
      const runs = results?.get(caseId)?.perRun;
      if (!runs) continue;
      const label = record.groups.find((group) => group.id === id)?.cases.find((item) => item.id === caseId)?.label ?? caseId;
      const each = runs.map((run) => `${ms(run.transfer)} / ${thousands(run.pageFaults)}`).join(', ');
      lines.push(`- ${id}, ${label}: ${each}`);
    }
  }
  return lines;
}

/**
 * Per W1 table: the floors against http.request, and the library against
 * them. Reading and sending share the client's one CPU, so their floors add up.
 */
function floors(record: RunRecord): string[] {
  const lines: string[] = [];
  for (const id of W1_GROUPS) {
    const results = record.results.get(id);
    const figure = (caseId: string): number | undefined => results?.get(caseId)?.transfer;
    const [bhw, reference, read, send, design, piping] = [
      'bhw',
      'http.request',
      'floor:file-read',
      'floor:tcp-1MiB-writes',
      'floor:tcp-double-buffer',
      'tcp',
    ].map(figure);
    if (bhw === undefined || reference === undefined) continue;
    const parts = [`- **${id}** (ratios to \`http.request\`'s transfer time):`];
    if (read !== undefined && send !== undefined) {
      parts.push(
        `file read alone ${ratio(read / reference)} + raw TCP fed from memory ${ratio(send / reference)} = **${ratio((read + send) / reference)}**, the least a client that reads and sends on one CPU can take;`,
      );
    }
    if (piping !== undefined) parts.push(`raw TCP piping ${ratio(piping / reference)};`);
    if (design !== undefined) parts.push(`this library's buffering on raw TCP, no HTTP, ${ratio(design / reference)};`);
    parts.push(`this library ${ratio(bhw / reference)}${design !== undefined ? ` (${ratio(bhw / design)} of its buffering alone)` : ''}.`);
    lines.push(parts.join(' '));
  }
  return lines;
}

/** By the geometric mean of the sweep's wall times: the fastest highWaterMark, and the smallest within 5% of it. */
export function recommendHighWaterMark(record: RunRecord): { best?: number; fastest?: number; lines: string[] } {
  const groups = record.groups.filter((group) => group.id.startsWith('HWM-'));
  const scores = new Map<number, number[]>();
  for (const group of groups) {
    const results = record.results.get(group.id);
    const sizes = record.config.sweep.filter((hwm) => results?.has(`hwm-${hwm}`));
    const best = Math.min(...sizes.map((hwm) => results!.get(`hwm-${hwm}`)!.wall));
    for (const hwm of sizes) scores.set(hwm, [...(scores.get(hwm) ?? []), results!.get(`hwm-${hwm}`)!.wall / best]);
  }
  const complete = [...scores].filter(([, list]) => list.length === groups.length);
  if (complete.length === 0) return { lines: ['The sweep did not complete; no recommendation.'] };
  const geomean = complete.map(([hwm, list]) => [hwm, Math.exp(list.reduce((s, v) => s + Math.log(v), 0) / list.length)] as const);
  const bestScore = Math.min(...geomean.map(([, score]) => score));
  const best = geomean
    .filter(([, score]) => score <= bestScore * 1.05)
    .map(([hwm]) => hwm)
    .sort((a, b) => a - b)[0];
  const fastest = geomean.find(([, score]) => score === bestScore)?.[0];
  const lines = table(
    ['highWaterMark', 'pool (stream mode)', 'time vs best of each workload (geometric mean)'],
    geomean.map(([hwm, score]) => [formatBytes(hwm), formatBytes(2 * hwm), ratio(score)]),
  );
  return { best, fastest, lines };
}

export function writeReport(record: RunRecord): string {
  const out: string[] = [];
  const mode = record.config.quick ? 'quick (`npm run bench -- --quick`: small inputs, one run each — a smoke test, not figures to quote)' : 'full';
  out.push('# Benchmarks', '');
  out.push(
    `Generated by \`npm run bench\` (${mode}) on ${record.startedAt.toISOString().slice(0, 16).replace('T', ' ')} UTC in ${ms(record.durationMs)}. Do not edit by hand: change \`bench/\` and run it again.`,
    '',
  );
  out.push('## Machine', '', ...machine(record.pinning), '');
  out.push(
    '> Single-run machine: these figures come from one run on a 2-CPU VM that other work may have been using at the same time. ' +
      'Ratios taken within one run are meaningful; absolute times may be noisy. Re-run on a quiet machine before quoting them.',
    '',
  );
  out.push(readFileSync(path.join(NOTES, 'method.md'), 'utf8').trim(), '');

  out.push('## Targets', '');
  const verdict = (met: boolean | undefined): string => (met === undefined ? 'not measured' : met ? '**met**' : '**not met**');
  out.push(
    'Checked on the whole-process wall medians (what a user waits for, start-up included) and, beside them, on the in-process transfer medians (the same ratio without Node start-up and module loading, which weigh most on short runs).',
    '',
    ...table(
      ['workload', 'target', 'measured (wall)', 'verdict (wall)', 'measured (transfer)', 'verdict (transfer)'],
      record.checks.map((c) => [c.workload, c.target, c.measured, verdict(c.met), c.transfer?.measured ?? '–', verdict(c.transfer?.met)]),
    ),
    '',
  );

  const groups = record.groups.filter((g) => !g.id.startsWith('HWM-'));
  const lastW1 = groups.filter((g) => g.id.startsWith('W1')).pop();
  for (const group of groups) {
    out.push(`## ${group.title}`, '', group.about, '', ...groupTable(group, record.results.get(group.id), record.failures), '');
    // Hand-written reading of the group's figures, kept beside the generated table.
    const notes = path.join(NOTES, `${group.id}.md`);
    if (existsSync(notes)) out.push(readFileSync(notes, 'utf8').trim(), '');
    if (group === lastW1) {
      out.push('### How close W1 comes to the floors (transfer times)', '', ...floors(record), '');
      const runs = runByRun(record);
      if (runs.length > 0) out.push('### W1 run by run', '', 'Transfer time / minor page faults of the client, in the order measured.', '', ...runs, '');
    }
  }

  out.push('## The default highWaterMark', '');
  out.push(
    'This library (stream mode, default options otherwise) with each `highWaterMark`, against `http.request` in the same loop. ' +
      "Every client of the sweep runs with glibc's heap trimming off (the `GLIBC_TUNABLES` of the W1 table above): otherwise the page faults it causes move single runs on this VM by ±25% and would pick the size by chance.",
    '',
  );
  for (const group of record.groups.filter((g) => g.id.startsWith('HWM-'))) {
    out.push(`### ${group.title}`, '', ...groupTable(group, record.results.get(group.id), record.failures), '');
  }
  const { best, fastest, lines } = recommendHighWaterMark(record);
  out.push(...lines, '');
  const current = formatBytes(record.defaultHighWaterMark);
  if (best !== undefined && fastest !== undefined) {
    const supported = best === record.defaultHighWaterMark || fastest === record.defaultHighWaterMark;
    out.push(
      `Fastest across the three workloads (geometric mean): **${formatBytes(fastest)}**; smallest size within 5% of it: **${formatBytes(best)}**. ` +
        `The library's default is ${current} (${supported ? 'one of the two' : 'neither of the two'}; see the discussion below).`,
      '',
    );
  }
  const discussion = path.join(NOTES, 'high-water-mark.md');
  if (existsSync(discussion)) out.push(readFileSync(discussion, 'utf8').trim(), '');

  // Overload: figures written by `npm run bench:overload`, then what they say (hand-written); S3 multipart (hand-written from bench/drivers/s3.ts);
  // then the same quick groups run on Node 20 and Node 24 (hand-copied from two runs);
  // then the digest's cost, written by `npm run bench:digest`, and what it says (hand-written);
  // Azure block blobs: written by bench/drivers/azure-blob.ts (256 MiB, and 1 GiB with --mib 1024 --out …-1gib.md).
  for (const name of [
    'overload.md',
    'overload-findings.md',
    's3.md',
    'node-versions.md',
    'digest.md',
    'digest-findings.md',
    'azure-blob-intro.md',
    'azure-blob.md',
    'azure-blob-1gib.md',
    'azure-blob-findings.md',
  ]) {
    const file = path.join(NOTES, name);
    if (existsSync(file)) out.push(readFileSync(file, 'utf8').trim(), '');
  }

  if (record.profiles.length > 0) {
    out.push(
      '## Profiles of the library',
      '',
      'CPU profiles (`node --cpu-prof`) of the client process, idle time left out. Self time per part, then per function.',
      '',
    );
    for (const { title, summary } of record.profiles) {
      out.push(`### ${title}`, '', `${ms(summary.busyMs)} of CPU sampled.`, '');
      out.push(
        ...table(
          ['part', 'self time', 'share'],
          summary.parts.map((p) => [p.part, ms(p.ms), `${(100 * p.share).toFixed(1)}%`]),
        ),
        '',
      );
      out.push(
        ...table(
          ['function', 'self time', 'share'],
          summary.top.map((f) => [`\`${f.name}\``, ms(f.ms), `${(100 * f.share).toFixed(1)}%`]),
        ),
        '',
      );
    }
  }
  const findings = path.join(NOTES, 'findings.md');
  if (existsSync(findings)) out.push(readFileSync(findings, 'utf8').trim(), '');
  return `${out
    .join('\n')
    .replace(/\n{3,}/g, '\n\n')
    .trim()}\n`;
}
