import { PassThrough, Readable } from 'node:stream';
import type { CliIo } from '../../cli/io.js';

/** What `main(argv, io)` wrote, for tests that run the CLI in-process (quicker, and counted by coverage). */
export interface Captured {
  io: CliIo;
  stdout(): string;
  stderr(): string;
  /** Resolves with the first match of `pattern` on stdout, now or later. */
  waitForStdout(pattern: RegExp): Promise<RegExpMatchArray>;
}

export function capture({ stdin = Readable.from([]), tty = false }: { stdin?: Readable; tty?: boolean } = {}): Captured {
  const text = { stdout: '', stderr: '' };
  const stdout = new PassThrough();
  const stderr = Object.assign(new PassThrough(), { isTTY: tty, columns: 120 });
  const waiters: Array<() => void> = [];
  stdout.on('data', (chunk: Buffer) => {
    text.stdout += chunk.toString();
    for (const waiter of waiters) waiter();
  });
  stderr.on('data', (chunk: Buffer) => (text.stderr += chunk.toString()));
  return {
    // No proxy variables of the machine running the tests: loopback uploads go direct.
    io: { stdin, stdout, stderr, env: {} },
    stdout: () => text.stdout,
    stderr: () => text.stderr,
    waitForStdout: (pattern) =>
      new Promise((resolve) => {
        const check = (): void => {
          const match = text.stdout.match(pattern);
          if (match) resolve(match);
        };
        waiters.push(check);
        check();
      }),
  };
}
