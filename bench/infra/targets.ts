/**
 * The performance targets (file upload, small writes, records, memory), checked against one run's figures. Time targets use
 * the whole-process wall time medians, what a user waits for; a target whose
 * figures are missing (a case that failed) is reported as not measured.
 */
import { MiB, formatBytes, ratio, type Summary } from './stats.js';
import type { Config } from './workloads.js';

export type Results = Map<string, Map<string, Summary>>;

export interface TargetCheck {
  workload: string;
  target: string;
  measured: string;
  /** undefined: not measured. */
  met: boolean | undefined;
  /** The same check on the in-process transfer medians. */
  transfer?: { measured: string; met: boolean | undefined };
}

function get(results: Results, group: string, id: string): Summary | undefined {
  return results.get(group)?.get(id);
}

/** `a / b` of wall medians, at most `limit`. */
function atMost(results: Results, workload: string, target: string, group: string, a: string, b: string, limit: number): TargetCheck {
  const x = get(results, group, a);
  const y = get(results, group, b);
  if (!x || !y) return { workload, target, measured: 'not measured', met: undefined };
  const value = x.wall / y.wall;
  const inProcess = x.transfer / y.transfer;
  return { workload, target, measured: ratio(value), met: value <= limit, transfer: { measured: ratio(inProcess), met: inProcess <= limit } };
}

/** How many times faster `a` is than `b` (b / a), at least `limit`. */
function faster(results: Results, workload: string, target: string, group: string, a: string, b: string, limit: number): TargetCheck {
  const x = get(results, group, a);
  const y = get(results, group, b);
  if (!x || !y) return { workload, target, measured: 'not measured', met: undefined };
  const value = y.wall / x.wall;
  const inProcess = y.transfer / x.transfer;
  return {
    workload,
    target,
    measured: `${value.toFixed(1)}× faster`,
    met: value >= limit,
    transfer: { measured: `${inProcess.toFixed(1)}× faster`, met: inProcess >= limit },
  };
}

export function checkTargets(results: Results, config: Config): TargetCheck[] {
  const checks: TargetCheck[] = [
    atMost(results, 'W1 64 KiB reads', '≤ 0.75× http.request (same reads)', 'W1-64KiB', 'bhw', 'http.request', 0.75),
    atMost(results, 'W1 64 KiB reads', '≤ 0.65× got.stream', 'W1-64KiB', 'bhw', 'got.stream', 0.65),
    atMost(results, 'W1 64 KiB reads', '≤ 0.65× undici.request', 'W1-64KiB', 'bhw', 'undici.request', 0.65),
    atMost(results, 'W1 1 MiB reads', '≤ 1.05× http.request 1 MiB', 'W1-1MiB', 'bhw', 'http.request', 1.05),
    atMost(results, 'W1 1 MiB reads', '≤ 1.15× raw TCP', 'W1-1MiB', 'bhw', 'tcp', 1.15),
  ];
  for (const kind of ['string', 'buffer']) {
    checks.push(
      faster(results, `W2 ${kind}s`, '≥ 3.3× faster than http.request direct', `W2-${kind}`, 'bhw', 'http.request', 3.3),
      faster(results, `W2 ${kind}s`, '≥ 15× faster than got.stream direct', `W2-${kind}`, 'bhw', 'got.stream', 15),
    );
  }
  checks.push(faster(results, 'W3', 'batch ≥ 200× faster than request per record', 'W3-per-record', 'bhw:batch', 'http.request:per-record', 200));

  const [small, large] = config.memorySizes;
  const bhwSmall = get(results, 'W4', `bhw@${small}`);
  const bhwLarge = get(results, 'W4', `bhw@${large}`);
  const gotLarge = get(results, 'W4', `got.stream@${large}`);
  const pool = 2 * MiB; // default highWaterMark × (1 in flight + 1 filling)
  checks.push(
    bhwSmall && bhwLarge
      ? {
          workload: 'W4',
          target: `peak RSS flat from ${formatBytes(small)} to ${formatBytes(large)} (within 16 MiB)`,
          measured: `${formatBytes(bhwSmall.rssMax)} → ${formatBytes(bhwLarge.rssMax)} (${bhwLarge.rssMax >= bhwSmall.rssMax ? '+' : '−'}${formatBytes(Math.abs(bhwLarge.rssMax - bhwSmall.rssMax))})`,
          met: bhwLarge.rssMax - bhwSmall.rssMax <= 16 * MiB,
        }
      : { workload: 'W4', target: 'peak RSS flat (within 16 MiB)', measured: 'not measured', met: undefined },
    bhwLarge && gotLarge
      ? {
          workload: 'W4',
          target: "≤ got.stream's peak + pool (2 MiB) + 16 MiB",
          measured: `${formatBytes(bhwLarge.rssMax)} vs got ${formatBytes(gotLarge.rssMax)} (limit ${formatBytes(gotLarge.rssMax + pool + 16 * MiB)})`,
          met: bhwLarge.rssMax <= gotLarge.rssMax + pool + 16 * MiB,
        }
      : { workload: 'W4', target: "≤ got.stream's peak + pool + 16 MiB", measured: 'not measured', met: undefined },
  );
  checks.push(...cliTargets(results));
  return checks;
}

/** C1: bhw as fast as curl with default options, a start near Node's own, and a lean process. */
function cliTargets(results: Results): TargetCheck[] {
  const group = 'C1-bhw-vs-curl';
  const file = get(results, group, 'bhw-file');
  const pool = 2 * MiB; // default highWaterMark × 2 buffers
  return [
    atMost(results, 'C1', '`bhw file url` ≤ 1.2× `curl -T file url`', group, 'bhw-file', 'curl-file', 1.2),
    atMost(results, 'C1', '`bhw - url < file` ≤ 1.2× `curl -T - url < file`', group, 'bhw-stdin', 'curl-stdin', 1.2),
    atMost(results, 'C1', '`bhw --version` ≤ 2× `node -e 0`', group, 'bhw-version', 'node-e0', 2),
    file
      ? { workload: 'C1', target: '`bhw file url` peak RSS ≤ 56 MiB + pool (2 MiB)', measured: formatBytes(file.rssMax), met: file.rssMax <= 56 * MiB + pool }
      : { workload: 'C1', target: '`bhw file url` peak RSS ≤ 56 MiB + pool', measured: 'not measured', met: undefined },
  ];
}
