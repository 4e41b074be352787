import { afterEach, beforeEach } from '@jest/globals';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { killRunningClis } from './cli.js';
import { startSink, type Sink } from './sink-server.js';

/** What each CLI test starts from: a temporary directory holding `data.bin`, and a recording sink. */
export interface CliFixture {
  readonly dir: string;
  /** `<dir>/data.bin`, holding the `data` given. */
  readonly file: string;
  /** Only with `sink: true` (the default). */
  readonly sink: Sink;
}

/**
 * Registers `beforeEach`/`afterEach` in the calling `describe` (or file): a
 * fresh directory with the data file and, unless `sink: false`, a sink; after
 * each test every `bhw` child still running is killed, the sink closed and
 * the directory removed. Read the fields inside tests, not at registration.
 */
export function useCliFixture(data: Buffer, { sink: withSink = true }: { sink?: boolean } = {}): CliFixture {
  const state: { dir?: string; file?: string; sink?: Sink } = {};
  beforeEach(async () => {
    state.dir = await mkdtemp(join(tmpdir(), 'bhw-cli-'));
    state.file = join(state.dir, 'data.bin');
    await writeFile(state.file, data);
    if (withSink) state.sink = await startSink();
  });
  afterEach(async () => {
    await killRunningClis();
    await state.sink?.close();
    if (state.dir) await rm(state.dir, { recursive: true, force: true });
    state.dir = state.file = state.sink = undefined;
  });
  const need = <T>(value: T | undefined, what: string): T => {
    if (value === undefined) throw new Error(`useCliFixture: ${what} is only there inside a test${what === 'sink' ? ' (and with sink: true)' : ''}`);
    return value;
  };
  return {
    get dir() {
      return need(state.dir, 'dir');
    },
    get file() {
      return need(state.file, 'file');
    },
    get sink() {
      return need(state.sink, 'sink');
    },
  };
}
