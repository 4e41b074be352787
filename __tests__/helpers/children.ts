import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { once } from 'node:events';

const running = new Set<ChildProcess>();

/** Spawns a child that `killChildren()` will SIGKILL if it is still running: no test leaves one behind. */
export function spawnChild(command: string, args: string[], options: SpawnOptions = {}): ChildProcess {
  const child = spawn(command, args, options);
  running.add(child);
  child.on('close', () => running.delete(child));
  return child;
}

/** SIGKILLs every child `spawnChild` started that is still running, and waits for each to close (call it in `afterEach`). */
export async function killChildren(): Promise<void> {
  await Promise.all(
    [...running].map((child) => {
      const closed = once(child, 'close');
      child.kill('SIGKILL');
      return closed;
    }),
  );
}
