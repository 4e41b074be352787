/**
 * Runs one measurement: a fresh sink process and a fresh client process,
 * pinned to different CPUs when `taskset` and two CPUs are there. The wall
 * time is the client's whole process, spawn to exit, as the parent sees it.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ClientResult, ClientTask } from './client.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const CLIENT = path.join(here, 'client.js');
const SINK = path.join(here, 'sink.js');
/** No single measurement may run longer than this; the run stops with an error instead. */
const CHILD_TIMEOUT_MS = 10 * 60_000;

/** A client task before the sink's address is known. */
export type TaskSpec = ClientTask extends infer T ? (T extends unknown ? Omit<T, 'url' | 'tcpPort'> : never) : never;

export interface SinkOptions {
  /** ms before each HTTP answer. */
  latency?: number;
  /** bytes per second the sink reads at most. */
  rate?: number;
}

/**
 * A command run as it is (a CLI next to curl): not a Node client of ours, so
 * it is measured from outside. GNU time (`/usr/bin/time -f`) reports the
 * command's CPU, peak RSS and minor faults from `wait4`'s rusage of exactly
 * that process; `process.resourceUsage()` would measure the harness, and
 * `RUSAGE_CHILDREN` sums every child the harness ever waited for.
 */
export interface CommandSpec {
  task: 'command';
  peer: string;
  /** The command and its arguments; `{url}` becomes the sink's upload URL. */
  argv: string[];
  /** Opened and given to the command as its stdin, as a shell's `< file` does; else stdin is /dev/null. */
  stdinFile?: string;
  /** Bytes the sink must have counted (the command prints the sink's `{"bytes":N}` answer on stdout); 0: a floor that uploads nothing. */
  bytes: number;
}

export const GNU_TIME = '/usr/bin/time';

export interface Measurement extends ClientResult {
  /** Whole client process, spawn to exit. */
  wallMs: number;
}

const children = new Set<ChildProcess>();

/** Ends every child this harness started (on exit or interrupt). */
export function killChildren(): void {
  for (const child of children) child.kill('SIGKILL');
  children.clear();
}

/**
 * A fresh temp directory for a driver's input files, removed with every child
 * this harness started when the driver exits, also on Ctrl-C or SIGTERM (130).
 */
export function benchTempDir(prefix: string): string {
  const temp = mkdtempSync(path.join(os.tmpdir(), prefix));
  const cleanup = (): void => {
    killChildren();
    rmSync(temp, { recursive: true, force: true });
  };
  process.on('exit', cleanup);
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      cleanup();
      process.exit(130);
    });
  }
  return temp;
}

export const pinning: { client: string[]; sink: string[]; description: string } = (() => {
  const hasTaskset = spawnSync('taskset', ['-c', '0', 'true']).status === 0;
  if (hasTaskset && os.cpus().length >= 2) {
    return { client: ['taskset', '-c', '0'], sink: ['taskset', '-c', '1'], description: 'client on CPU 0, sink on CPU 1 (taskset)' };
  }
  return { client: [], sink: [], description: 'not pinned (taskset or a second CPU missing)' };
})();

function start(prefix: string[], args: string[], env: Record<string, string> = {}): ChildProcess {
  const [command, ...rest] = [...prefix, process.execPath, ...args];
  const child = spawn(command!, rest, { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  children.add(child);
  child.on('exit', () => children.delete(child));
  return child;
}

async function firstLine(child: ChildProcess, what: string): Promise<string> {
  let text = '';
  let errors = '';
  child.stderr!.on('data', (chunk: Buffer) => (errors += chunk.toString()));
  for await (const chunk of child.stdout!) {
    text += (chunk as Buffer).toString();
    if (text.includes('\n')) return text.slice(0, text.indexOf('\n'));
  }
  throw new Error(`${what} printed nothing${errors ? `: ${errors.trim()}` : ''}`);
}

async function startSink(options: SinkOptions): Promise<{ child: ChildProcess; http: number; tcp: number }> {
  const args = [SINK];
  if (options.latency) args.push('--latency', String(options.latency));
  if (options.rate) args.push('--rate', String(options.rate));
  const child = start(pinning.sink, args);
  const ports = JSON.parse(await firstLine(child, 'the sink')) as { http: number; tcp: number };
  return { child, ...ports };
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  await exited;
}

/**
 * One measurement. `task` gets the sink's URL and TCP port filled in.
 * `nodeArgs` go before the client script (e.g. `--cpu-prof`); `env` is added
 * to the client's environment only.
 */
export async function measure(task: TaskSpec, sinkOptions: SinkOptions = {}, nodeArgs: string[] = [], env: Record<string, string> = {}): Promise<Measurement> {
  const sink = await startSink(sinkOptions);
  try {
    const full = { ...task, url: `http://127.0.0.1:${sink.http}/upload`, tcpPort: sink.tcp } as ClientTask;
    const began = performance.now();
    const client = start(pinning.client, [...nodeArgs, CLIENT, JSON.stringify(full)], env);
    const timer = setTimeout(() => client.kill('SIGKILL'), CHILD_TIMEOUT_MS);
    let stderr = '';
    client.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    let stdout = '';
    client.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    const [code, signal] = (await once(client, 'exit')) as [number | null, NodeJS.Signals | null];
    const wallMs = performance.now() - began;
    clearTimeout(timer);
    if (code !== 0) {
      throw new Error(`${task.peer}: client exited with ${code ?? signal}: ${stderr.trim().split('\n').slice(0, 6).join('\n')}`);
    }
    const result = JSON.parse(stdout.trim().split('\n').pop()!) as ClientResult;
    return { ...result, wallMs };
  } finally {
    await stop(sink.child);
  }
}

/**
 * One measurement of a command: a fresh sink, the command (pinned like the
 * clients) under GNU time, wall time spawn to exit as the parent sees it. The
 * command must exit 0 and print the sink's answer, whose byte count must
 * match: a command that sent less fails the case rather than looking fast.
 */
export async function measureCommand(spec: CommandSpec, sinkOptions: SinkOptions = {}): Promise<Measurement> {
  const sink = await startSink(sinkOptions);
  const timeFile = path.join(os.tmpdir(), `bhw-bench-time-${process.pid}-${sink.http}`);
  const stdin = spec.stdinFile === undefined ? 'ignore' : openSync(spec.stdinFile, 'r');
  try {
    const url = `http://127.0.0.1:${sink.http}/upload`;
    const argv = spec.argv.map((arg) => arg.replace('{url}', url));
    // %e wall s, %U user s, %S system s, %M peak RSS KiB, %R minor faults.
    const [command, ...rest] = [...pinning.client, GNU_TIME, '-o', timeFile, '-f', '%e %U %S %M %R', ...argv];
    const began = performance.now();
    const child = spawn(command!, rest, { stdio: [stdin, 'pipe', 'pipe'] });
    children.add(child);
    const timer = setTimeout(() => child.kill('SIGKILL'), CHILD_TIMEOUT_MS);
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const [code, signal] = (await once(child, 'close')) as [number | null, NodeJS.Signals | null];
    const wallMs = performance.now() - began;
    clearTimeout(timer);
    children.delete(child);
    if (code !== 0) throw new Error(`${spec.peer}: exited with ${code ?? signal}: ${stderr.trim().split('\n').slice(0, 4).join('\n')}`);
    const [, user, system, rssKiB, faults] = readFileSync(timeFile, 'utf8').trim().split('\n').pop()!.split(' ').map(Number) as number[];
    const answer = /\{"bytes":(\d+)\}/.exec(stdout);
    const bytes = answer ? Number(answer[1]) : spec.bytes === 0 ? 0 : -1;
    if (bytes !== spec.bytes) throw new Error(`${spec.peer}: the sink counted ${bytes} bytes, ${spec.bytes} were sent (stdout: ${stdout.slice(0, 200)})`);
    return { bytes, ms: wallMs, cpuMs: (user! + system!) * 1000, maxRss: rssKiB! * 1024, pageFaults: faults!, wallMs };
  } finally {
    if (typeof stdin === 'number') closeSync(stdin);
    rmSync(timeFile, { force: true });
    await stop(sink.child);
  }
}
