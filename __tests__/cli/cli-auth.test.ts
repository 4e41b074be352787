/**
 * bhw -u USER:PASSWORD: Basic credentials reach the server, and the password
 * (and the header made from it) never appears in anything bhw prints, even
 * when the server echoes the Authorization header back, in every output mode.
 */
import { describe, expect, test } from '@jest/globals';
import { runCli } from '../helpers/cli.js';
import { useCliFixture } from '../helpers/cli-fixture.js';
import { pattern } from '../helpers/data.js';
import { readBody, startSink, type Sink } from '../helpers/sink-server.js';

const PASSWORD = 'hunter2-s3cret:with-colon';
const USER = `alice:${PASSWORD}`;
const BASIC = Buffer.from(USER).toString('base64');
const data = pattern(100_000);
const fx = useCliFixture(data, { sink: false });

/** Nothing of the password, in clear or as the Basic token, anywhere in the output. */
function expectNoPassword(output: string): void {
  expect(output).not.toContain(PASSWORD);
  expect(output).not.toContain('hunter2');
  expect(output).not.toContain(BASIC);
}

/** The Authorization headers the echoing sink received. */
const received: string[] = [];

/** Answers `status` to every request with a body that echoes the Authorization header, raw and decoded. */
function echoingSink(status: (request: { method?: string | undefined }) => number, headers: Record<string, string> = {}): Promise<Sink> {
  received.length = 0;
  return startSink((request, response) => {
    void readBody(request).then(() => {
      const authorization = request.headers.authorization ?? '';
      received.push(authorization);
      const decoded = Buffer.from(authorization.replace(/^Basic /, ''), 'base64').toString();
      response.writeHead(status(request), { 'content-type': 'text/plain', ...headers });
      response.end(`you sent Authorization: ${authorization} (${decoded})\n`);
    });
  });
}

describe('-u USER:PASSWORD', () => {
  test('the server receives Basic credentials; the echoed answer on stdout shows [REDACTED]', async () => {
    const sink = await echoingSink(() => 200);
    try {
      const result = await runCli(['-u', USER, fx.file, sink.url]);

      expect(result.code).toBe(0);
      // The library's rule: a credential header's whole value is a secret, and so is the password.
      expect(result.stdout).toBe('you sent Authorization: [REDACTED] (alice:[REDACTED])\n');
      expect(received).toEqual([`Basic ${BASIC}`]);
      expectNoPassword(result.stdout + result.stderr);
    } finally {
      await sink.close();
    }
  });

  test.each([
    ['stream', [], []],
    ['stream --json', ['--json'], []],
    ['stream --quiet', ['--quiet'], []],
    ['stream --progress', ['--progress', '--high-water-mark', '16KiB'], []],
    ['batch --json', ['--mode', 'batch', '--json'], []],
    ['tus --json', ['--mode', 'tus', '--json'], []],
  ])('a 401 echoing it, %s: exit 1, no password in stdout or stderr', async (_name, flags) => {
    const sink = await echoingSink(() => 401, { 'www-authenticate': 'Basic realm="test"' });
    try {
      const result = await runCli(['-u', USER, ...flags, fx.file, `${sink.url}/files`]);

      expect(result.code).toBe(1);
      // --json: the error object, redacted like the rest.
      if (flags.includes('--json')) expect(JSON.parse(result.stdout)).toMatchObject({ error: { statusCode: 401 }, exitCode: 1 });
      else expect(result.stdout).toBe('');
      expect(result.stderr).toMatch(/bhw: upload failed: Server answered 401 Unauthorized/);
      expect(received[0]).toBe(`Basic ${BASIC}`);
      expectNoPassword(result.stdout + result.stderr);
    } finally {
      await sink.close();
    }
  });

  test('tus: the resume command after a 401 on a PATCH keeps the user, not the password', async () => {
    const sink = await startSink((request, response) => {
      void readBody(request).then(() => {
        if (request.method === 'POST') response.writeHead(201, { location: '/files/abc', 'tus-resumable': '1.0.0' }).end();
        else response.writeHead(401, { 'tus-resumable': '1.0.0' }).end(`no: ${request.headers.authorization}`);
      });
    });
    try {
      const result = await runCli(['--mode', 'tus', '-u', USER, fx.file, `${sink.url}/files`]);

      expect(result.code).toBe(1);
      const lines = result.stderr.split('\n');
      expect(lines[0]).toMatch(/^bhw: upload failed: Server answered 401 Unauthorized: no: \[REDACTED\]/);
      expect(lines[1]).toBe(`bhw: to continue: bhw --resume ${sink.url}/files/abc --mode tus -u 'alice:[REDACTED]' ${fx.file} ${sink.url}/files`);
      expect(lines[2]).toBe('bhw: (fill in the values shown as [REDACTED])');
      expectNoPassword(result.stdout + result.stderr);
    } finally {
      await sink.close();
    }
  });
});
