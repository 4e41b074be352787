/**
 * The options types per mode. The `@ts-expect-error` lines are checked by
 * `npm test`'s tsc step: each must be an error, or the build fails. The test
 * below compiles a fixture with `exactOptionalPropertyTypes: true`, as a
 * caller with that setting would.
 */
import { describe, expect, test } from '@jest/globals';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import type { BatchModeOptions, BufferedHttpWritableOptions, StreamModeOptions, TusModeOptions, UploadFileOptions } from '../../lib/index.js';

const retry = { limit: 2 };
const dir = '/tmp/spool';

// Each mode takes its own keys.
export const valid: BufferedHttpWritableOptions[] = [
  {},
  { highWaterMark: 1024, method: 'PUT', contentLength: 10, expectContinueTimeout: 0 },
  { mode: 'stream', signal: undefined },
  { mode: 'batch', retry, concurrency: 'auto', maxConcurrency: 4, flushInterval: 10, compress: 'gzip', spool: { dir } },
  { mode: 'tus', retry, uploadUrl: 'http://127.0.0.1:9/files/1', metadata: {}, deleteOnAbort: true, contentLength: 10 },
];

export const refused: BufferedHttpWritableOptions[] = [
  // @ts-expect-error retry applies to batch and tus only: a stream body cannot be sent again
  { mode: 'stream', retry },
  // @ts-expect-error the default mode is stream
  { retry },
  // @ts-expect-error spool applies to batch only
  { mode: 'tus', spool: { dir } },
  // @ts-expect-error method is not used by tus
  { mode: 'tus', method: 'PUT' },
  // @ts-expect-error contentLength is not a batch option
  { mode: 'batch', contentLength: 10 },
  // @ts-expect-error uploadUrl applies to tus only
  { mode: 'batch', uploadUrl: 'http://127.0.0.1:9/files/1' },
];

// Each mode's type on its own, and uploadFile's options per mode too.
export const stream: StreamModeOptions = { method: 'PATCH' };
export const batch: BatchModeOptions = { mode: 'batch', compress: 'gzip' };
export const tus: TusModeOptions = { mode: 'tus', allowInsecureLocation: false };
export const file: UploadFileOptions[] = [
  { mode: 'tus', declareSize: false, onRead: () => undefined },
  // @ts-expect-error concurrency applies to batch only
  { declareSize: true, concurrency: 2 },
];

describe('with exactOptionalPropertyTypes', () => {
  test('undefined optional keys compile, another mode’s options do not (the fixture’s @ts-expect-error lines)', () => {
    const configPath = fileURLToPath(new URL('types-fixture/tsconfig.json', import.meta.url));
    const { config } = ts.readConfigFile(configPath, (path) => ts.sys.readFile(path));
    const parsed = ts.parseJsonConfigFileContent(config, ts.sys, fileURLToPath(new URL('types-fixture/', import.meta.url)));
    expect(parsed.options.exactOptionalPropertyTypes).toBe(true);
    const program = ts.createProgram(parsed.fileNames, parsed.options);
    const fixture = program.getSourceFile(parsed.fileNames[0]!)!;
    const errors = ts
      .getPreEmitDiagnostics(program, fixture)
      .map((diagnostic) => `${diagnostic.start}: ${ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n')}`);

    expect(errors).toEqual([]);
  });
});
