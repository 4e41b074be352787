import type { Readable, Writable } from 'node:stream';

/** Where the CLI reads and writes: the process's streams, or others in a test. */
export interface CliIo {
  stdin: Readable;
  /**
   * The file descriptor behind `stdin` (the process's: 0), read directly into
   * the pool's buffers by `uploadFile`. In-memory streams (tests) have none
   * and are piped instead.
   */
  stdinFd?: number;
  stdout: Writable;
  /** `isTTY` decides whether the progress bar shows by default. */
  stderr: Writable & { isTTY?: boolean };
  /** The environment the proxy variables are read from (default: the process's). */
  env?: NodeJS.ProcessEnv;
}

/** The process's own streams, looked up only when used (touching stdin opens it). */
export const processIo: CliIo = {
  get stdin() {
    return process.stdin;
  },
  stdinFd: 0,
  get stdout() {
    return process.stdout;
  },
  get stderr() {
    return process.stderr;
  },
  get env() {
    return process.env;
  },
};

export const EXIT_OK = 0;
/** The upload failed. */
export const EXIT_FAILED = 1;
/** Bad usage or input. */
export const EXIT_USAGE = 2;
/** `-f`: the server answered an HTTP error status (curl's code for it). */
export const EXIT_HTTP_ERROR = 22;
/** 128 + SIGINT, as shells report a program stopped by Ctrl-C. */
export const EXIT_INTERRUPTED = 130;

/** Asking the server where a resumed upload stands failed: the message is the line to print (exit 1). Here, not in upload.ts, so main.ts knows it without loading the upload. */
export class ResumeError extends Error {
  override name = 'ResumeError';
}
