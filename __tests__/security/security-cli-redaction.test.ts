/**
 * bhw prints no credential, whichever route brought it to the request: URL
 * user:password (and the Basic header got makes of it), a 3-character
 * password, secret query parameters, a `--secret-header`, an X-Api-Key. A
 * server echoing them shows `[REDACTED]` on stdout (`--json`) and stderr (the
 * failure line, the printed resume command), through the real binary, while
 * the server still receives the real values.
 */
import { afterEach, describe, expect, test } from '@jest/globals';
import { runCli } from '../helpers/cli.js';
import { useCliFixture } from '../helpers/cli-fixture.js';
import { pattern } from '../helpers/data.js';
import { Closer } from '../helpers/outcome.js';
import { readBody, startSink, type Sink } from '../helpers/sink-server.js';

const REDACTED = '[REDACTED]';
const fx = useCliFixture(pattern(5000), { sink: false });
const closer = new Closer();
afterEach(() => closer.closeAll());

function base64(text: string): string {
  return Buffer.from(text).toString('base64');
}

/** Answers `status` with the URL, every header and the decoded Basic credentials it received; keeps what it saw. */
async function startEcho(status: number, seen: Array<{ url: string; headers: Record<string, unknown> }>): Promise<Sink> {
  return closer.add(
    await startSink((request, response) => {
      void readBody(request).then(() => {
        seen.push({ url: request.url ?? '', headers: request.headers });
        const basic = Buffer.from((request.headers.authorization ?? '').replace(/^Basic /, ''), 'base64').toString();
        response.writeHead(status, { 'content-type': 'application/json' });
        response.end(JSON.stringify({ echo: 'seen', url: request.url, headers: request.headers, basic }));
      });
    }),
  );
}

/** The arguments that carry the credential, given the echoing server's URL (the file goes before the URL). */
interface Route {
  args(url: string, file: string): string[];
  secrets: string[];
  /** Checks the server received the credential. */
  received(seen: { url: string; headers: Record<string, unknown> }): void;
}

function login(url: string, user: string, password: string): string {
  return url.replace('http://', `http://${user}:${password}@`);
}

const routes: Record<string, Route> = {
  'user:password in the URL': {
    args: (url, file) => [file, login(url, 'alice', 'LONGPASS99')],
    secrets: ['LONGPASS99', base64('alice:LONGPASS99')],
    received: (seen) => expect(seen.headers.authorization).toBe(`Basic ${base64('alice:LONGPASS99')}`),
  },
  'a 3-character password in the URL': {
    args: (url, file) => [file, login(url, 'carol', 'q7z')],
    secrets: ['q7z', base64('carol:q7z')],
    received: (seen) => expect(seen.headers.authorization).toBe(`Basic ${base64('carol:q7z')}`),
  },
  'secret query parameters': {
    args: (url, file) => [file, `${url}/up?part=1&token=QTOKEN123&sig=SASSIG456&X-Amz-Signature=AMZSIG789`],
    secrets: ['QTOKEN123', 'SASSIG456', 'AMZSIG789'],
    received: (seen) => expect(seen.url).toBe('/up?part=1&token=QTOKEN123&sig=SASSIG456&X-Amz-Signature=AMZSIG789'),
  },
  '--secret-header and X-Api-Key': {
    args: (url, file) => ['--secret-header', 'X-Signature', '-H', 'X-Signature: HDRSIG-4242', '-H', 'X-Api-Key: APIKEY-31337', file, url],
    secrets: ['HDRSIG-4242', 'APIKEY-31337'],
    received: (seen) => expect(seen.headers).toMatchObject({ 'x-signature': 'HDRSIG-4242', 'x-api-key': 'APIKEY-31337' }),
  },
};

function expectNone(secrets: string[], text: string): void {
  for (const secret of secrets) expect(text).not.toContain(secret);
}

describe.each(Object.entries(routes))('%s', (_label, route) => {
  test('--json: the echoed body on stdout shows [REDACTED]', async () => {
    const seen: Array<{ url: string; headers: Record<string, unknown> }> = [];
    const sink = await startEcho(200, seen);
    const result = await runCli(['--json', ...route.args(sink.url, fx.file)]);

    expect(result.code).toBe(0);
    route.received(seen[0]!);
    const summary = JSON.parse(result.stdout) as { body: string };
    expect(summary.body).toContain('seen');
    expect(summary.body).toContain(REDACTED);
    expectNone(route.secrets, result.stdout + result.stderr);
  });

  test('a refusal: the failure line on stderr shows [REDACTED]', async () => {
    const seen: Array<{ url: string; headers: Record<string, unknown> }> = [];
    const sink = await startEcho(400, seen);
    const result = await runCli(route.args(sink.url, fx.file));

    expect(result.code).toBe(1);
    route.received(seen[0]!);
    expect(result.stderr).toMatch(/^bhw: upload failed: Server answered 400 Bad Request: \{"echo":"seen"/);
    expect(result.stderr).toContain(REDACTED);
    expectNone(route.secrets, result.stdout + result.stderr);
  });
});

describe('tus: the printed resume command', () => {
  test('shows the query secrets of the endpoint and of the upload URL as [REDACTED], and the server got the real ones', async () => {
    const seen: string[] = [];
    const sink = closer.add(
      await startSink((request, response) => {
        void readBody(request).then(() => {
          seen.push(`${request.method} ${request.url}`);
          if (request.method === 'POST') response.writeHead(201, { location: '/files/1?se=2030&sig=LOCSIG321', 'tus-resumable': '1.0.0' });
          else response.writeHead(400, { 'content-type': 'text/plain' });
          response.end(request.method === 'POST' ? '' : `no PATCH to ${request.url}`);
        });
      }),
    );
    const result = await runCli(['--mode', 'tus', '--json', fx.file, `${sink.url}/files?token=QTOKEN123`]);

    expect(result.code).toBe(1);
    expect(seen).toEqual(['POST /files?token=QTOKEN123', 'PATCH /files/1?se=2030&sig=LOCSIG321']);
    const lines = result.stderr.trim().split('\n');
    expect(lines[0]).toMatch(/^bhw: upload failed: Server answered 400 Bad Request: no PATCH to \/files\/1\?se=2030&sig=\[REDACTED\] /);
    expect(lines[1]).toBe(
      `bhw: to continue: bhw --resume '${sink.url}/files/1?se=2030&sig=${REDACTED}' --mode tus --json ${fx.file} '${sink.url}/files?token=${REDACTED}'`,
    );
    expect(lines[2]).toBe(`bhw: (fill in the values shown as ${REDACTED})`);
    expectNone(['QTOKEN123', 'LOCSIG321'], result.stdout + result.stderr);
  });
});
