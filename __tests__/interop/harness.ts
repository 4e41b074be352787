/**
 * Starts a real server binary from a Debian package as a child process of the
 * test (in the foreground: never a daemon), with its own config, pid, log and
 * temp files under a fresh `mkdtemp` directory.
 *
 *   const nginx = await startServer({
 *     name: 'nginx',
 *     config: 'nginx.conf',                      // __tests__/interop/configs/nginx.conf
 *     vars: { UPSTREAM: sink.url },              // {{UPSTREAM}} in the template
 *     ports: ['PORT'],                           // {{PORT}}: a free loopback port
 *     command: (c) => ['/usr/sbin/nginx', '-p', c.dir, '-c', c.configPath],
 *   });
 *   // nginx.ports.PORT, nginx.dir, nginx.log()
 *   await nginx.stop();                          // kills it, removes its directory
 *
 * Ports: a port is picked by listening on port 0 and closing again, so another
 * process may take it before the server binds it. When the server then fails
 * to start, the whole start is retried with fresh ports (`startAttempts`).
 * Readiness: a TCP connect to every port is polled, a bounded number of times;
 * the child exiting first fails the start at once with its log.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { chmodSync, mkdtempSync, openSync, closeSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { createConnection } from 'node:net';
import { freePort } from '../helpers/free-port.js';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The templates, in the source tree also when this module runs compiled from dist/ (the probes). */
export const CONFIG_DIR = join(dirname(fileURLToPath(import.meta.url)).replace(/[/\\]dist([/\\]__tests__[/\\])/, '$1'), 'configs');

/** What a config template and the command line are made from. */
export interface ServerContext {
  /** The server's own directory: config, pid, logs, temp files. Removed by `stop()`. */
  dir: string;
  /** The rendered config file (inside `dir`). */
  configPath: string;
  /** Every variable: `vars`, the ports, and DIR. */
  vars: Record<string, string>;
  ports: Record<string, number>;
}

export interface ServerSpec {
  /** Shown in errors, and the temp directory's prefix. */
  name: string;
  /** A template file under `configs/`; `{{NAME}}` is replaced by its variable. Omit for servers configured by flags alone. */
  config?: string;
  /** The rendered config's file name in `dir` (default: the template's name). */
  configName?: string;
  vars?: Record<string, string>;
  /** Names of the ports to pick; the first one is also the readiness port unless `readyPorts` says otherwise. */
  ports: string[];
  /** Ports polled for readiness (default: all of `ports`). */
  readyPorts?: string[];
  /** argv, built once the directory and ports are known. */
  command: (context: ServerContext) => string[];
  /** Extra environment variables (the rest is inherited). */
  env?: (context: ServerContext) => Record<string, string>;
  /** Called once the directory exists, before the server starts (extra files, permissions). */
  prepare?: (context: ServerContext) => void;
  /** Readiness polls per start attempt (default 100). */
  readyAttempts?: number;
  /** Starts with fresh ports after a failed one (default 3). */
  startAttempts?: number;
}

export interface RunningServer {
  readonly name: string;
  readonly dir: string;
  readonly ports: Record<string, number>;
  readonly child: ChildProcess;
  /** stdout and stderr of the child so far, and of any log file named. */
  log(...files: string[]): string;
  /** Kills the child (SIGTERM, then SIGKILL when it lingers) and removes `dir`. Safe to call twice. */
  stop(): Promise<void>;
}

/** Replaces every `{{NAME}}`; a name without a value is an error (a typo must not become an empty string). */
export function render(template: string, vars: Record<string, string>): string {
  return template.replace(/\{\{([A-Z0-9_]+)\}\}/g, (_match, name: string) => {
    const value = vars[name];
    if (value === undefined) throw new Error(`config template: no value for {{${name}}}`);
    return value;
  });
}

/** Whether something accepts a TCP connection on 127.0.0.1:port. */
function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => {
      socket.destroy();
      resolve(false);
    });
  });
}

/** A pause between two readiness polls (polling, not synchronisation: the state is checked after each one). */
function pollPause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

const running = new Set<RunningServer>();

export async function startServer(spec: ServerSpec): Promise<RunningServer> {
  const startAttempts = spec.startAttempts ?? 3;
  let lastError: Error | undefined;
  for (let attempt = 1; attempt <= startAttempts; attempt++) {
    try {
      return await startOnce(spec);
    } catch (error) {
      lastError = error as Error;
    }
  }
  throw lastError!;
}

async function startOnce(spec: ServerSpec): Promise<RunningServer> {
  const dir = mkdtempSync(join(tmpdir(), `bhw-interop-${spec.name}-`));
  // Servers started as root drop their workers to an unprivileged user
  // (nginx: nobody, squid: proxy, Apache: www-data), which must still write here.
  chmodSync(dir, 0o777);
  const ports: Record<string, number> = {};
  for (const name of spec.ports) ports[name] = await freePort();
  const configPath = join(dir, spec.configName ?? spec.config ?? 'none');
  const vars: Record<string, string> = { DIR: dir, ...spec.vars };
  for (const [name, port] of Object.entries(ports)) vars[name] = String(port);
  const context: ServerContext = { dir, configPath, vars, ports };
  try {
    if (spec.config) writeFileSync(configPath, render(readFileSync(join(CONFIG_DIR, spec.config), 'utf8'), vars));
    spec.prepare?.(context);
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }

  const outPath = join(dir, 'child.out');
  const out = openSync(outPath, 'a');
  const [command, ...args] = spec.command(context);
  const child = spawn(command!, args, { cwd: dir, stdio: ['ignore', out, out], env: { ...process.env, ...spec.env?.(context) } });
  closeSync(out);
  let exited = false;
  const exit = once(child, 'exit').then(() => {
    exited = true;
  });
  child.on('error', () => {}); // a missing binary also ends in 'exit'

  const log = (...files: string[]): string =>
    [outPath, ...files.map((file) => join(dir, file))]
      .filter((file) => existsSync(file))
      .map((file) => `--- ${file}\n${readFileSync(file, 'utf8')}`)
      .join('\n');

  let stopped = false;
  const server: RunningServer = {
    name: spec.name,
    dir,
    ports,
    child,
    log,
    stop: async () => {
      if (stopped) return;
      stopped = true;
      running.delete(server);
      if (!exited) {
        child.kill('SIGTERM');
        // Bounded: SIGKILL if it has not gone after its grace period.
        const grace = setTimeout(() => child.kill('SIGKILL'), 3000);
        await exit;
        clearTimeout(grace);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
  running.add(server);

  const readyPorts = (spec.readyPorts ?? spec.ports).map((name) => ports[name]!);
  const attempts = spec.readyAttempts ?? 100;
  for (let poll = 0; poll < attempts; poll++) {
    if (exited) break;
    const ready = (await Promise.all(readyPorts.map(canConnect))).every(Boolean);
    if (ready && !exited) return server;
    await pollPause(Math.min(20 * (poll + 1), 200));
  }
  const output = log();
  await server.stop();
  throw new Error(
    `${spec.name} did not become ready on ${readyPorts.join(', ')} (${exited ? `exited with ${child.exitCode ?? child.signalCode}` : `${attempts} polls`}):\n${output}`,
  );
}

/** Stops every server still running (for an afterAll that must not leak a child, whatever failed). */
export async function stopAll(): Promise<void> {
  await Promise.all([...running].map((server) => server.stop()));
}

/** The version line a binary prints, for the findings. */
export function binaryExists(path: string): boolean {
  return existsSync(path);
}
