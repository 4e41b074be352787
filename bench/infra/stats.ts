import type { Measurement } from './harness.js';

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/** The figures of one case over its runs. */
export interface Summary {
  runs: number;
  /** Whole-process wall time, ms: median, min, max. */
  wall: number;
  wallMin: number;
  wallMax: number;
  /** In-process transfer time, ms (median). */
  transfer: number;
  /** Client CPU time, ms (median). */
  cpu: number;
  /** Peak RSS, bytes: the largest over the runs, and the median. */
  rssMax: number;
  rss: number;
  /** Minor page faults (median); absent in runs recorded before it was measured. */
  pageFaults?: number;
  /** Every run in the order measured: what the median hides (W1's runs fall into two groups). */
  perRun?: Array<{ wall: number; transfer: number; pageFaults: number }>;
  bytes: number;
}

export function summarize(measurements: Measurement[]): Summary {
  const wall = measurements.map((m) => m.wallMs);
  return {
    runs: measurements.length,
    wall: median(wall),
    wallMin: Math.min(...wall),
    wallMax: Math.max(...wall),
    transfer: median(measurements.map((m) => m.ms)),
    cpu: median(measurements.map((m) => m.cpuMs)),
    rssMax: Math.max(...measurements.map((m) => m.maxRss)),
    rss: median(measurements.map((m) => m.maxRss)),
    pageFaults: median(measurements.map((m) => m.pageFaults)),
    perRun: measurements.map((m) => ({ wall: m.wallMs, transfer: m.ms, pageFaults: m.pageFaults })),
    bytes: measurements[0]?.bytes ?? 0,
  };
}

/** Spread as ± half the min–max range, in % of the median. */
export function spread(summary: Summary): string {
  if (summary.runs < 2) return 'n=1';
  return `±${((50 * (summary.wallMax - summary.wallMin)) / summary.wall).toFixed(1)}%`;
}

export const MiB = 1024 * 1024;

export function formatBytes(bytes: number): string {
  if (bytes >= 1024 * MiB && bytes % (1024 * MiB) === 0) return `${bytes / (1024 * MiB)} GiB`;
  if (bytes >= MiB) return `${+(bytes / MiB).toFixed(1)} MiB`;
  return `${+(bytes / 1024).toFixed(1)} KiB`;
}

export function ms(value: number): string {
  return value >= 10_000 ? `${(value / 1000).toFixed(1)} s` : `${value.toFixed(0)} ms`;
}

export function ratio(value: number): string {
  return `${value.toFixed(2)}×`;
}
