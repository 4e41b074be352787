import { afterEach, beforeEach, describe, expect, test } from '@jest/globals';
import { createHash } from 'node:crypto';
import { runCli } from '../helpers/cli.js';
import { useCliFixture } from '../helpers/cli-fixture.js';
import { pattern } from '../helpers/data.js';
import { sha256 } from '../helpers/sink-server.js';
import { startTusServer, type TusTestServer } from '../helpers/tus-server.js';

/** RFC 9530's `Content-Digest` value of `data`, computed here independently of the CLI. */
function contentDigest(algorithm: 'sha-256' | 'sha-512', data: Buffer): string {
  return `${algorithm}=:${createHash(algorithm.replace('-', '')).update(data).digest('base64')}:`;
}

describe('bhw --digest: the digest of what was sent', () => {
  const data = pattern(700_000, 25);
  const fx = useCliFixture(data);

  test('stream, a file: the Content-Digest printed is sha-256 of the file, and the file arrives whole', async () => {
    const result = await runCli(['--digest', 'sha-256', '--high-water-mark', '64KiB', fx.file, fx.sink.url]);

    expect(result.code).toBe(0);
    expect(fx.sink.received[0]!.sha256).toBe(sha256(data));
    expect(result.stderr).toMatch(/^bhw: uploaded 700000 bytes .*, status 200\n/);
    expect(result.stderr).toContain(`\nbhw: sent Content-Digest: ${contentDigest('sha-256', data)}\n`);
  });

  test('stream, a pipe on stdin, sha-512 with --sha256 and --json: both digests from one pass, as fields', async () => {
    const result = await runCli(['--digest', 'sha-512', '--sha256', '--json', '-', fx.sink.url], { input: data });

    expect(result.code).toBe(0);
    const summary = JSON.parse(result.stdout) as Record<string, unknown>;
    expect(summary).toMatchObject({ bytes: data.length, sha256: sha256(data), digest: 'sha-512', contentDigest: contentDigest('sha-512', data) });
    expect(result.stderr).toContain(`bhw: sent Content-Digest: ${contentDigest('sha-512', data)}\n`);
  });

  test('batch: no single digest to print; each request carried its own', async () => {
    const records = Buffer.from(Array.from({ length: 3000 }, (_, n) => `{"n":${n}}\n`).join(''));
    const result = await runCli(['--mode', 'batch', '--digest', 'sha-256', '--json', '--high-water-mark', '8KiB', '-', fx.sink.url], { input: records });

    expect(result.code).toBe(0);
    const summary = JSON.parse(result.stdout) as Record<string, unknown>;
    expect(summary.digest).toBe('sha-256');
    expect(summary).not.toHaveProperty('contentDigest');
    expect(result.stderr).toContain('bhw: each request carried its own Content-Digest (sha-256) of its bytes as sent\n');
    expect(sha256(Buffer.concat(fx.sink.received.map((batch) => batch.body)))).toBe(sha256(records));
  });

  test('--quiet: no digest line either', async () => {
    const result = await runCli(['--digest', 'sha-256', '--quiet', fx.file, fx.sink.url]);

    expect(result.code).toBe(0);
    expect(result.stderr).toBe('');
  });
});

describe('bhw --digest with tus', () => {
  const data = pattern(200_000, 26);
  const fx = useCliFixture(data, { sink: false });
  let tus: TusTestServer;
  beforeEach(async () => (tus = await startTusServer()));
  afterEach(async () => await tus.close());

  test('each PATCH carries its own checksum: the CLI says so, and the upload is whole', async () => {
    const result = await runCli(['--mode', 'tus', '--digest', 'sha-256', '--json', fx.file, tus.url]);

    expect(result.code).toBe(0);
    const summary = JSON.parse(result.stdout) as { uploadUrl: string; digest: string };
    expect(summary.digest).toBe('sha-256');
    expect(summary).not.toHaveProperty('contentDigest');
    expect((await tus.stored(summary.uploadUrl)).sha256).toBe(sha256(data));
    expect(result.stderr).toContain('bhw: each PATCH carried Upload-Checksum (sha-256) of its own bytes where the server takes the algorithm\n');
  });
});

describe('bhw --digest refuses what is not an RFC 9530 algorithm, before sending', () => {
  const fx = useCliFixture(pattern(1000, 27));

  test.each([
    ['md5', '--digest must be sha-256 or sha-512, received "md5" (md5 is an insecure algorithm RFC 9530 no longer lists)'],
    ['sha1', '--digest must be sha-256 or sha-512, received "sha1" (sha1 is an insecure algorithm RFC 9530 no longer lists)'],
    ['sha256', '--digest must be sha-256 or sha-512, received "sha256" (did you mean sha-256?)'],
    ['SHA-512', '--digest must be sha-256 or sha-512, received "SHA-512" (did you mean sha-512?)'],
    ['crc32', '--digest must be sha-256 or sha-512, received "crc32"'],
  ])('--digest %s: exit 2, the message names the choices', async (value, message) => {
    const result = await runCli(['--digest', value, fx.file, fx.sink.url]);

    expect(result.code).toBe(2);
    expect(result.stderr).toBe(`bhw: ${message}\n`);
    expect(fx.sink.received).toHaveLength(0);
  });

  test('a mistyped flag is pointed to --digest', async () => {
    const result = await runCli(['--digets', 'sha-256', fx.file, fx.sink.url]);

    expect(result.code).toBe(2);
    expect(result.stderr).toContain('unknown option --digets (did you mean --digest?)');
  });

  test('--help names the flag and its algorithms', async () => {
    const result = await runCli(['--help']);

    expect(result.stdout).toMatch(/--digest sha-256\|sha-512 +tell the server the digest/);
  });
});
