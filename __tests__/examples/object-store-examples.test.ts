/**
 * The S3 and Azure examples as a user runs them: compiled, started as their
 * own processes, against the servers the mode tests use (s3rver behind the
 * recording proxy, Azurite). Each object is read back and compared by
 * sha256; a resume continues after a first run killed with parts in flight.
 */
import { afterAll, afterEach, beforeAll, describe, expect, test } from '@jest/globals';
import { type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { readUploadState } from '../../lib/index.js';
import { startAzurite, type Azurite } from '../azure-blob/azurite.js';
import { killChildren, spawnChild } from '../helpers/children.js';
import { CREDENTIALS, REGION, content, sha256, startS3, type S3Fixture } from '../s3/s3-harness.js';
import { startGateProxy, type GateProxy, type GateRequest } from './gate-proxy.js';

const compiled = new URL('../../dist/examples/', import.meta.url).pathname;
const MiB = 1024 * 1024;
/** The examples' part and block size: the library's default. */
const PART = 8 * MiB;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

interface Started {
  child: ChildProcess;
  /** Resolves once the child printed that at least `bytes` are stored. */
  stored(bytes: number): Promise<void>;
  done: Promise<Run>;
}

/** Starts a compiled example; `stdin` is written to it and ended (a pipe, not a file). */
function start(name: string, args: string[], { env = {}, stdin }: { env?: NodeJS.ProcessEnv; stdin?: Buffer } = {}): Started {
  const child = spawnChild(process.execPath, [join(compiled, `${name}.js`), ...args], {
    stdio: ['pipe', 'pipe', 'pipe'],
    env: { ...process.env, AWS_SESSION_TOKEN: '', ...env },
  });
  child.stdin!.on('error', () => {}).end(stdin);
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const done = once(child, 'close').then(([code]) => ({ code: code as number | null, stdout, stderr }));
  const stored = (bytes: number): Promise<void> =>
    new Promise((resolve, reject) => {
      const look = (): void => {
        if (stdout.split(/[\r\n]/).some((line) => /^\d+ bytes stored$/.test(line) && Number.parseInt(line, 10) >= bytes)) resolve();
      };
      child.stdout!.on('data', look);
      look();
      void done.then((run) => reject(new Error(`${name} exited (${run.code}) before ${bytes} bytes were stored: ${run.stdout}${run.stderr}`)));
    });
  return { child, stored, done };
}

const run = (name: string, args: string[], options?: { env?: NodeJS.ProcessEnv; stdin?: Buffer }): Promise<Run> => start(name, args, options).done;

async function kill(started: Started): Promise<void> {
  started.child.kill('SIGKILL');
  await started.done;
}

let work: string;
beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'bhw-objstore-examples-'));
});
afterEach(async () => {
  await killChildren();
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

describe('s3-export', () => {
  let s3: S3Fixture;
  const env = { AWS_ACCESS_KEY_ID: CREDENTIALS.accessKeyId, AWS_SECRET_ACCESS_KEY: CREDENTIALS.secretAccessKey, AWS_REGION: REGION };
  const partRequests = (requests: S3Fixture['requests']): number[] =>
    requests
      .filter((request) => request.query.partNumber)
      .map((request) => Number(request.query.partNumber))
      .sort((a, b) => a - b);

  beforeAll(async () => {
    s3 = await startS3();
  });
  afterEach(() => {
    s3.hold = undefined;
    s3.answer = undefined;
  });
  afterAll(async () => {
    await s3?.close();
  });

  test('stdin of unknown length becomes the object, byte-exact, in parts', async () => {
    const data = content(PART + 12_345, 31);
    const result = await run('s3-export', ['-', s3.url('stdin.bin')], { env, stdin: data });
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(new RegExp(`\ndone: ${data.length} bytes in ${s3.url('stdin.bin')}\n$`));
    expect(sha256((await s3.object('stdin.bin'))!)).toBe(sha256(data));
    expect(s3.problems).toEqual([]);
  });

  test('a missing file, or no credentials, is one line and exit 2, sending nothing', async () => {
    const missing = join(work, 'missing.sql');
    const before = s3.requests.length;
    expect(await run('s3-export', ['--gzip', missing, s3.url('x')], { env })).toEqual({
      code: 2,
      stdout: '',
      stderr: `s3-export: cannot read ${missing}: no such file\n`,
    });
    expect(await run('s3-export', [missing, s3.url('x')], { env: { AWS_ACCESS_KEY_ID: '', AWS_SECRET_ACCESS_KEY: '' } })).toEqual({
      code: 2,
      stdout: '',
      stderr: 's3-export: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY\n',
    });
    expect(s3.requests.length).toBe(before);
  });

  /** A --gzip --state run killed once parts 1 and 2 are stored (part 3 held by the proxy). */
  async function killedAfterTwoParts(file: string, key: string, state: string): Promise<void> {
    s3.hold = (request) => Number(request.query.partNumber) >= 3;
    const first = start('s3-export', ['--gzip', '--state', state, file, s3.url(key)], { env });
    await first.stored(2 * PART);
    await kill(first);
    s3.hold = undefined;
    expect((await readUploadState(state))?.parts.map((part) => part.number)).toEqual([1, 2]);
  }

  test('--gzip --state: a run killed with a part in flight is continued by the next, sending only the rest; the object gunzips to the file', async () => {
    const data = content(2 * PART + 3 * MiB, 32);
    const file = join(work, 'export.sql');
    const state = join(work, 'export.json');
    await writeFile(file, data);
    await killedAfterTwoParts(file, 'export.sql.gz', state);

    const before = s3.requests.length;
    const second = await run('s3-export', ['--gzip', '--state', state, file, s3.url('export.sql.gz')], { env });
    expect(second.stderr).toBe('');
    expect(second.code).toBe(0);
    const resumed = s3.requests.slice(before);
    expect(resumed.some((request) => 'uploads' in request.query)).toBe(false);
    expect(partRequests(resumed)).toEqual([3]);
    expect(sha256(gunzipSync((await s3.object('export.sql.gz'))!))).toBe(sha256(data));
    await expect(stat(state)).rejects.toMatchObject({ code: 'ENOENT' });
    expect(s3.problems).toEqual([]);
  });

  test('--gzip --state with a file changed since: refused, nothing sent, no object', async () => {
    const file = join(work, 'changed.sql');
    const state = join(work, 'changed.json');
    await writeFile(file, content(2 * PART + MiB, 33));
    await killedAfterTwoParts(file, 'changed.sql.gz', state);
    await writeFile(file, content(2 * PART + MiB, 34));

    const before = s3.requests.length;
    const second = await run('s3-export', ['--gzip', '--state', state, file, s3.url('changed.sql.gz')], { env });
    expect(second.code).toBe(1);
    expect(second.stderr).toBe(
      '\ns3-export: upload failed: the input differs from part 1 S3 holds: this upload cannot be continued; remove the state file to start over\n',
    );
    expect(s3.requests.length).toBe(before);
    expect(await s3.object('changed.sql.gz')).toBeUndefined();
  });

  test('a refused part: exit 1, naming the upload and the parts S3 holds', async () => {
    const data = content(2 * PART + MiB, 35);
    const file = join(work, 'refused.bin');
    await writeFile(file, data);
    s3.answer = (request) => (request.query.partNumber ? { status: 403, body: '<Error><Code>AccessDenied</Code></Error>' } : undefined);
    const result = await run('s3-export', [file, s3.url('refused.bin')], { env });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^\ns3-export: upload failed: ERR_BHW_\w+: [^\n]*403[^\n]*\ns3-export: upload \S+ holds parts \[\]\n$/);
    expect(result.stderr).not.toContain(CREDENTIALS.secretAccessKey);
  });
});

describe('azure-blob-backup', () => {
  let azurite: Azurite;
  let gate: GateProxy;
  /** The number of a Put Block request's block (the library's ids end in it, zero-padded). */
  const blockNumber = (request: GateRequest): number | undefined => {
    const id = request.url.searchParams.get('blockid');
    return request.method === 'PUT' && id ? Number(Buffer.from(id, 'base64').toString('latin1').slice(-6)) : undefined;
  };
  /** A new blob's SAS URL, through the gate proxy. */
  const blobUrl = async (name: string): Promise<string> => (await azurite.blobUrl(name)).replace(/^http:\/\/[^/]+/, gate.origin);

  beforeAll(async () => {
    azurite = await startAzurite();
    gate = await startGateProxy(new URL(azurite.accountUrl).origin);
  }, 300_000);
  afterEach(() => {
    gate.hold = undefined;
    gate.answer = undefined;
  });
  afterAll(async () => {
    await gate?.close();
    await azurite?.close();
  });

  test('a file becomes the blob, byte-exact, with its content type; the SAS is never printed', async () => {
    const data = content(PART + 4321, 41);
    const file = join(work, 'db.dump');
    await writeFile(file, data);
    const url = await blobUrl('db.dump');
    const sig = new URL(url).searchParams.get('sig')!;
    const result = await run('azure-blob-backup', ['--content-type', 'application/x-dump', file, url]);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/\ndone: \d+ bytes in \S+sig=\[REDACTED\]\S*\n$/);
    expect(result.stdout).toContain(`done: ${data.length} bytes`);
    expect(result.stdout + result.stderr).not.toContain(sig);
    expect(sha256(await azurite.read(url))).toBe(sha256(data));
    const blob = new URL(url).pathname.split('/');
    const properties = await azurite.service.getContainerClient(blob[2]!).getBlobClient(blob[3]!).getProperties();
    expect(properties.contentType).toBe('application/x-dump');
  });

  test('a missing file, or a URL without its SAS (unquoted in a shell), is one line and exit 2, sending nothing', async () => {
    const missing = join(work, 'missing.dump');
    const url = await blobUrl('never.bin');
    const before = gate.requests.length;
    expect(await run('azure-blob-backup', [missing, url])).toEqual({
      code: 2,
      stdout: '',
      stderr: `azure-blob-backup: cannot read ${missing}: no such file\n`,
    });
    expect(await run('azure-blob-backup', [missing, url.split('&')[0]!])).toEqual({
      code: 2,
      stdout: '',
      stderr: 'azure-blob-backup: the blob URL carries no SAS (sig=…): quote the whole URL\n',
    });
    expect(gate.requests.length).toBe(before);
  });

  test('--state: a run killed with a block in flight is continued by the next, sending only the rest; the blob is exact', async () => {
    const data = content(2 * PART + 5 * MiB, 42);
    const file = join(work, 'resumed.dump');
    const state = join(work, 'resumed.json');
    await writeFile(file, data);
    const url = await blobUrl('resumed.dump');
    gate.hold = (request) => (blockNumber(request) ?? 0) >= 3;
    const first = start('azure-blob-backup', ['--state', state, file, url]);
    await first.stored(2 * PART);
    await kill(first);
    gate.hold = undefined;
    expect((await readUploadState(state))?.parts.map((part) => part.number)).toEqual([1, 2]);

    const before = gate.requests.length;
    const second = await run('azure-blob-backup', ['--state', state, file, url]);
    expect(second.stderr).toBe('');
    expect(second.code).toBe(0);
    expect(second.stdout).toMatch(new RegExp(`\ndone: ${data.length} bytes in `));
    const sent = gate.requests
      .slice(before)
      .map(blockNumber)
      .filter((number) => number !== undefined);
    expect(sent).toEqual([3]);
    expect(sha256(await azurite.read(url))).toBe(sha256(data));
    await expect(stat(state)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  test('a refused block: exit 1, naming the upload and the blocks stored, without the SAS', async () => {
    const file = join(work, 'refused.dump');
    await writeFile(file, content(PART + 1, 43));
    const url = await blobUrl('refused.dump');
    gate.answer = (request) => (blockNumber(request) ? { status: 403, body: '<Error><Code>AuthorizationFailure</Code></Error>' } : undefined);
    const result = await run('azure-blob-backup', ['--state', join(work, 'refused.json'), file, url]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(
      /^\nazure-blob-backup: upload failed: ERR_BHW_\w+: [^\n]*403[^\n]*\nazure-blob-backup: upload \S+ holds blocks \[\]\n.*run the same command again/,
    );
    expect(result.stderr).not.toContain(new URL(url).searchParams.get('sig')!);
  });
});
