/**
 * Reads a V8 `.cpuprofile` (written by `node --cpu-prof`) and says where the
 * client's CPU went: self time per function, and per part (this library, got,
 * Node streams, Node http/net, native calls, GC).
 */
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileSummary {
  /** Sampled time that was not idle, ms. */
  busyMs: number;
  top: Array<{ name: string; ms: number; share: number }>;
  parts: Array<{ part: string; ms: number; share: number }>;
}

function partOf(url: string, name: string): string {
  if (name === '(garbage collector)') return 'GC';
  if (name === '(idle)') return 'idle';
  if (url.includes('/dist/lib/')) return 'buffered-http-writable (lib/)';
  if (url.includes('/dist/bench/')) return 'benchmark driver (bench/)';
  if (url.includes('/node_modules/got/')) return 'got';
  if (url.includes('/node_modules/')) return 'other npm packages';
  if (/internal\/streams\//.test(url)) return 'Node streams';
  if (/_http_|node:http|node:net|stream_base_commons/.test(url)) return 'Node http/net';
  if (/internal\/(modules|bootstrap)|esm\/|cjs\//.test(url)) return 'module loading';
  if (url === '') return 'native (syscalls, memcpy, encoding)';
  return 'other Node internals';
}

export function summarizeProfile(path: string, topCount = 15): ProfileSummary {
  const profile = JSON.parse(readFileSync(path, 'utf8')) as CpuProfile;
  const nodes = new Map(profile.nodes.map((node) => [node.id, node]));
  const byFunction = new Map<string, number>();
  const byPart = new Map<string, number>();
  let busy = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    const node = nodes.get(profile.samples[i]!);
    const delta = profile.timeDeltas[i] ?? 0;
    if (!node) continue;
    const { functionName, url, lineNumber } = node.callFrame;
    const part = partOf(url, functionName);
    if (part === 'idle' || functionName === '(program)') continue;
    busy += delta;
    const file = url.split('/').slice(-2).join('/');
    const name = `${functionName || '(anonymous)'}${file ? ` ${file}:${lineNumber + 1}` : ''}`;
    byFunction.set(name, (byFunction.get(name) ?? 0) + delta);
    byPart.set(part, (byPart.get(part) ?? 0) + delta);
  }
  const rows = (map: Map<string, number>) =>
    [...map].sort((a, b) => b[1] - a[1]).map(([key, micros]) => ({ key, ms: micros / 1000, share: busy ? micros / busy : 0 }));
  return {
    busyMs: busy / 1000,
    top: rows(byFunction)
      .slice(0, topCount)
      .map(({ key, ms, share }) => ({ name: key, ms, share })),
    parts: rows(byPart).map(({ key, ms, share }) => ({ part: key, ms, share })),
  };
}
