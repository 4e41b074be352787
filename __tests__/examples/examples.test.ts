/**
 * The examples as a user runs them: compiled (`npm test` builds dist/ first),
 * importing the package by its name, started as their own processes.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { pattern } from '../helpers/data.js';
import { sha256, startSink, type Sink } from '../helpers/sink-server.js';

const root = new URL('../..', import.meta.url).pathname;
const sources = join(root, 'examples');
const compiled = join(root, 'dist', 'examples');

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function runExample(name: string, args: string[], cwd = root): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [join(compiled, `${name}.js`), ...args], { cwd }, (error, stdout, stderr) => {
      resolve({ code: error ? (error.code as number) : 0, stdout, stderr });
    });
  });
}

describe('examples', () => {
  let work: string;
  let sink: Sink;

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'bhw-examples-'));
    sink = await startSink();
  });
  afterAll(async () => {
    await sink.close();
    await rm(work, { recursive: true, force: true });
  });

  test('import the library by its package name, as an application would', async () => {
    for (const file of await readdir(sources)) {
      const source = await readFile(join(sources, file), 'utf8');
      expect({ file, imports: source.match(/from '\.\.\/lib\/[^']*'/g) ?? [] }).toEqual({ file, imports: [] });
    }
  });

  test.each(['upload-file', 'gzip-upload', 'resumable-upload'])('%s with a missing file says so in one line and exits 2, sending nothing', async (name) => {
    const missing = join(work, 'missing.log');
    const before = sink.requestCount;
    const run = await runExample(name, [missing, `${sink.url}/up`]);
    expect(run).toEqual({ code: 2, stdout: '', stderr: `${name}: cannot read ${missing}: no such file\n` });
    expect(sink.requestCount).toBe(before);
  });

  test('gzip-upload with a directory instead of a file says so', async () => {
    const run = await runExample('gzip-upload', [work, `${sink.url}/up`]);
    expect(run).toEqual({ code: 2, stdout: '', stderr: `gzip-upload: cannot read ${work}: not a regular file\n` });
  });

  test('gzip-upload sends the file gzipped, and a refused upload is one line and exit 1', async () => {
    const data = pattern(200_000);
    const file = join(work, 'access.log');
    await writeFile(file, data);
    const run = await runExample('gzip-upload', [file, `${sink.url}/gz`]);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^200000 bytes read, \d+ gzip bytes uploaded and acknowledged\n$/);
    expect(sha256(gunzipSync(sink.received.at(-1)!.body))).toBe(sha256(data));

    const refused = await startSink((_request, response) => void response.writeHead(403).end());
    try {
      const failed = await runExample('gzip-upload', [file, `${refused.url}/gz`]);
      expect(failed.code).toBe(1);
      expect(failed.stderr).toMatch(/^gzip-upload: upload failed: .*403[^\n]*\n$/);
    } finally {
      await refused.close();
    }
  });

  test('ship-ndjson-logs without a URL leaves nothing in the current directory', async () => {
    const cwd = await mkdtemp(join(work, 'cwd-'));
    const run = await runExample('ship-ndjson-logs', ['', '50'], cwd);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/bytes acknowledged in \d+ batches\n$/);
    expect(await readdir(cwd)).toEqual([]);
  });
});
