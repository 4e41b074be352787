#!/usr/bin/env node
import { readFileSync, realpathSync } from 'node:fs';
import nodeModule from 'node:module';
import { fileURLToPath } from 'node:url';
import { parseCliArgs, USAGE, UsageError } from './args.js';
import { EXIT_FAILED, EXIT_OK, EXIT_USAGE, processIo, ResumeError, type CliIo } from './io.js';

/** Runs `bhw` with these arguments; resolves with the exit code. */
export async function main(argv: string[], io: CliIo = processIo): Promise<number> {
  try {
    const args = parseCliArgs(argv);
    switch (args.command) {
      case 'help':
        io.stdout.write(`${USAGE}\n`);
        return EXIT_OK;
      case 'version':
        io.stdout.write(`${version()}\n`);
        return EXIT_OK;
      // Each command loads only what it runs: --version and --help never load got.
      case 'receive':
        return await (await import('./receive.js')).runReceive(args, io);
      case 'upload':
        return await (await import('./upload.js')).runUpload(args, io);
    }
  } catch (error) {
    if (error instanceof UsageError) {
      io.stderr.write(`bhw: ${error.message}\n`);
      return EXIT_USAGE;
    }
    if (error instanceof ResumeError) {
      io.stderr.write(`${error.message}\n`);
      return EXIT_FAILED;
    }
    io.stderr.write(`bhw: ${(error as Error).stack ?? String(error)}\n`);
    return EXIT_FAILED;
  }
}

/** The package's version, from the package.json above this file (in cli/ or dist/cli/). */
function version(): string {
  for (const up of ['../package.json', '../../package.json']) {
    try {
      const json = JSON.parse(readFileSync(new URL(up, import.meta.url), 'utf8')) as { name?: string; version?: string };
      if (json.name === 'buffered-http-writable') return json.version ?? 'unknown';
    } catch {
      // not there: try the next level up
    }
  }
  return 'unknown';
}

// Run when started as a program (through npm's bin symlink too), not when imported.
if (process.argv[1] && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url)) {
  enableCompileCache();
  const code = await main(process.argv.slice(2));
  // Leave explicitly: stdin is read with fs.read in libuv's thread pool, and
  // such a read cannot be cancelled. After a failed or interrupted upload from
  // a pipe whose writer stays open, it would hold the process forever.
  // (stdout and stderr are synchronous for files, pipes and terminals on
  // POSIX; the empty writes wait for anything still queued elsewhere.)
  await Promise.all([process.stdout, process.stderr].map((stream) => new Promise((resolve) => stream.write('', resolve))));
  process.exit(code);
}

/**
 * Node ≥ 22.1 keeps the compiled code of the modules loaded from here on
 * (got and the library) on disk, so the next start skips compiling them.
 * Older Node has no such function: it starts as before.
 */
function enableCompileCache(): void {
  const { enableCompileCache: enable } = nodeModule as { enableCompileCache?: () => unknown };
  try {
    enable?.();
  } catch {
    // A cache directory that cannot be written only costs the speed-up.
  }
}
