/**
 * One measurement, in a fresh process: `node dist/bench/infra/client.js '<json task>'`.
 * Runs the task once, checks that the sink counted every byte, and prints one
 * JSON line with the in-process time, CPU time and peak RSS of this process.
 */
import { hashAlone, type HashPeer, type HashSpec } from '../peers/hash-peers.js';
import { shipRecords, type RecordPeer, type RecordSpec } from '../peers/record-peers.js';
import { upload, type UploadPeer, type UploadSpec } from '../peers/upload-peers.js';
import { smallWrites, type WritePeer, type WriteSpec } from '../peers/write-peers.js';

export type ClientTask =
  | ({ task: 'upload'; peer: UploadPeer } & UploadSpec)
  | ({ task: 'writes'; peer: WritePeer } & WriteSpec)
  | ({ task: 'records'; peer: RecordPeer } & RecordSpec)
  | ({ task: 'hash'; peer: HashPeer } & HashSpec);

export interface ClientResult {
  /** Bytes the sink confirmed. */
  bytes: number;
  /** From the start of the task to the sink's last answer, in this process. */
  ms: number;
  /** User + system CPU of this process (all threads), ms. */
  cpuMs: number;
  /** Peak resident set of this process, bytes. */
  maxRss: number;
  /** Minor page faults of this process: memory the kernel had to map fresh (see BENCHMARKS.md, W1 findings). */
  pageFaults: number;
}

/** `ms` and `cpuMs`, when given, are the task's own timing of what it measures (the hash alone), in place of the whole process's. */
async function run(task: ClientTask): Promise<{ received: number; expected: number; ms?: number; cpuMs?: number }> {
  switch (task.task) {
    case 'upload': {
      const received = await upload(task.peer, task);
      return { received, expected: task.bytes };
    }
    case 'writes':
      return smallWrites(task.peer, task);
    case 'records':
      return shipRecords(task.peer, task);
    case 'hash':
      return hashAlone(task);
  }
}

/** Loads the peer's library before the clock starts: the in-process time is the transfer alone (the wall time still pays for the load). */
async function preload(peer: string): Promise<void> {
  if (peer.startsWith('bhw')) await import('../../lib/index.js');
  if (peer.startsWith('got')) await import('got');
  if (peer.startsWith('undici')) await import('undici');
}

async function main(): Promise<void> {
  const task = JSON.parse(process.argv[2] ?? '') as ClientTask;
  await preload(task.peer);
  const start = performance.now();
  const { received, expected, ms: own, cpuMs: ownCpu } = await run(task);
  const ms = own ?? performance.now() - start;
  if (received !== expected) throw new Error(`${task.peer}: the sink counted ${received} bytes, ${expected} were sent`);
  const usage = process.resourceUsage();
  const result: ClientResult = {
    bytes: received,
    ms,
    cpuMs: ownCpu ?? (usage.userCPUTime + usage.systemCPUTime) / 1000,
    maxRss: usage.maxRSS * 1024,
    pageFaults: usage.minorPageFault,
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

main().then(
  // Keep-alive sockets and agents are not the measurement: leave at once.
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  },
);
