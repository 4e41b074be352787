import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';

/** The built CLI: `npm test` builds before jest; during development run `npx tsc -p tsconfig.json` first. */
export const CLI_PATH = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** A running `bhw` child process, its output collected as it comes. */
export interface CliProcess {
  child: ChildProcess;
  readonly stdout: string;
  readonly stderr: string;
  /** Resolves with the first match of `pattern` in the stream's output so far or to come; rejects if the process exits first. */
  waitFor(stream: 'stdout' | 'stderr', pattern: RegExp): Promise<RegExpMatchArray>;
  /** Resolves once the process exited and its output streams closed. */
  exited: Promise<CliResult>;
}

export interface CliOptions {
  /** Written to the child's stdin. */
  input?: Buffer;
  /** A file descriptor the child gets as its stdin (a file opened for reading, the read end of a pipe) instead of a socket fed with `input`. */
  stdinFd?: number;
  /** Leave stdin open after `input`, as a producer that has not finished yet would. */
  keepStdinOpen?: boolean;
  cwd?: string;
  /** Run this executable (an installed `node_modules/.bin/bhw`, say) instead of `node dist/cli/main.js`. */
  executable?: string;
  /** Variables added to the child's environment (`HTTPS_PROXY`, say); `undefined` removes one. */
  env?: Record<string, string | undefined>;
}

const running = new Set<ChildProcess>();

/**
 * Kills every `bhw` child still running and waits for it to go: call it in
 * `afterEach`, so a failed assertion or a timeout leaves no process behind.
 */
export async function killRunningClis(): Promise<void> {
  await Promise.all(
    [...running].map((child) => {
      const closed = once(child, 'close');
      child.kill('SIGKILL');
      return closed;
    }),
  );
}

/** Starts `node dist/cli/main.js ...args`; `input` is written to its stdin, which is then closed unless `keepStdinOpen`. */
export function spawnCli(args: string[], { input, stdinFd, keepStdinOpen = false, cwd, executable, env }: CliOptions = {}): CliProcess {
  const [command, commandArgs] = executable ? [executable, args] : [process.execPath, [CLI_PATH, ...args]];
  const child = spawn(command, commandArgs, { cwd, env: childEnv(env), stdio: [stdinFd ?? 'pipe', 'pipe', 'pipe'] });
  running.add(child);
  child.once('close', () => running.delete(child));
  const output = { stdout: '', stderr: '' };
  const waiters: Array<{ stream: 'stdout' | 'stderr'; pattern: RegExp; resolve: (match: RegExpMatchArray) => void; reject: (error: Error) => void }> = [];
  const check = (): void => {
    for (const waiter of [...waiters]) {
      const match = output[waiter.stream].match(waiter.pattern);
      if (match) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve(match);
      }
    }
  };
  for (const stream of ['stdout', 'stderr'] as const) {
    child[stream]!.setEncoding('utf8');
    child[stream]!.on('data', (text: string) => {
      output[stream] += text;
      check();
    });
  }
  // A child that exits early closes its stdin: that EPIPE is not the test's concern.
  if (child.stdin) {
    child.stdin.on('error', () => {});
    if (input) child.stdin.write(input);
    if (!keepStdinOpen) child.stdin.end();
  }
  const exited = once(child, 'close').then(([code, signal]) => {
    for (const waiter of waiters.splice(0)) {
      waiter.reject(new Error(`bhw exited (${code ?? signal}) before ${waiter.pattern} appeared on ${waiter.stream}:\n${output.stderr}`));
    }
    return { code: code as number | null, signal: signal as NodeJS.Signals | null, ...output };
  });
  return {
    child,
    get stdout() {
      return output.stdout;
    },
    get stderr() {
      return output.stderr;
    },
    waitFor(stream, pattern) {
      return new Promise((resolve, reject) => {
        waiters.push({ stream, pattern, resolve, reject });
        check();
      });
    },
    exited,
  };
}

/**
 * The child's environment: this process's, without the proxy variables of
 * the machine running the tests (a CI proxy must not carry loopback uploads),
 * plus `extra`.
 */
function childEnv(extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) if (!/^(https?|all|no)_proxy$/i.test(name)) env[name] = value;
  for (const [name, value] of Object.entries(extra)) {
    if (value === undefined) delete env[name];
    else env[name] = value;
  }
  return env;
}

/** Runs `bhw` to completion. */
export function runCli(args: string[], options: CliOptions = {}): Promise<CliResult> {
  return spawnCli(args, options).exited;
}
