/**
 * `--digest` run in-process through `main(argv, io)` (counted by coverage):
 * the file path (uploadFile) and the pipeline path (stdin), each mode's line,
 * and the refusals of parseCliArgs. cli-digest.test.ts runs the real binary.
 */
import { afterEach, describe, expect, test } from '@jest/globals';
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { parseCliArgs } from '../../cli/args.js';
import { main } from '../../cli/main.js';
import { useCliFixture } from '../helpers/cli-fixture.js';
import { capture } from '../helpers/cli-in-process.js';
import { pattern } from '../helpers/data.js';
import { sha256, startSink, type Sink } from '../helpers/sink-server.js';
import { startTusServer, type TusTestServer } from '../helpers/tus-server.js';

const data = pattern(150_000, 28);
const fx = useCliFixture(data, { sink: false });
let sink: Sink | undefined;
let tus: TusTestServer | undefined;

afterEach(async () => {
  await sink?.close();
  await tus?.close();
  sink = tus = undefined;
});

function contentDigest(algorithm: 'sha-256' | 'sha-512', bytes: Buffer): string {
  return `${algorithm}=:${createHash(algorithm.replace('-', '')).update(bytes).digest('base64')}:`;
}

describe('--digest in-process', () => {
  test('stream from a file (uploadFile): contentDigest in --json is sha-512 of the file', async () => {
    sink = await startSink();
    const out = capture();
    expect(await main(['--digest', 'sha-512', '--json', fx.file, sink.url], out.io)).toBe(0);
    expect(JSON.parse(out.stdout())).toMatchObject({ bytes: data.length, digest: 'sha-512', contentDigest: contentDigest('sha-512', data) });
    expect(sink.received[0]!.sha256).toBe(sha256(data));
  });

  test('stream from stdin (the pipeline): the Content-Digest line follows the summary', async () => {
    sink = await startSink();
    const out = capture({ stdin: Readable.from([data]) });
    expect(await main(['--digest', 'sha-256', '-', sink.url], out.io)).toBe(0);
    expect(out.stderr()).toMatch(
      new RegExp(`^bhw: uploaded 150000 bytes .*\\nbhw: sent Content-Digest: ${contentDigest('sha-256', data).replace(/[+/]/g, '\\$&')}\\n$`),
    );
  });

  test('batch: each request its own', async () => {
    sink = await startSink();
    const records = Buffer.from(Array.from({ length: 500 }, (_, n) => `{"n":${n}}\n`).join(''));
    const out = capture({ stdin: Readable.from([records]) });
    expect(await main(['--mode', 'batch', '--digest', 'sha-256', '-', sink.url], out.io)).toBe(0);
    expect(out.stderr()).toContain('bhw: each request carried its own Content-Digest (sha-256) of its bytes as sent\n');
  });

  test('tus: each PATCH its own Upload-Checksum', async () => {
    tus = await startTusServer();
    const out = capture();
    expect(await main(['--mode', 'tus', '--digest', 'sha-256', fx.file, tus.url], out.io)).toBe(0);
    expect(out.stderr()).toContain('bhw: each PATCH carried Upload-Checksum (sha-256) of its own bytes where the server takes the algorithm\n');
  });

  test.each([
    ['sha-256', 'sha-256'],
    ['sha-512', 'sha-512'],
  ])('parseCliArgs takes --digest %s', (value, expected) => {
    expect(parseCliArgs(['--digest', value, 'f', 'http://h/'])).toMatchObject({ digest: expected });
  });

  test.each([
    ['md5', /received "md5" \(md5 is an insecure algorithm RFC 9530 no longer lists\)$/],
    ['sha256', /received "sha256" \(did you mean sha-256\?\)$/],
    ['blake3', /^--digest must be sha-256 or sha-512, received "blake3"$/],
  ])('parseCliArgs refuses --digest %s', (value, message) => {
    expect(() => parseCliArgs(['--digest', value, 'f', 'http://h/'])).toThrow(message);
  });
});
