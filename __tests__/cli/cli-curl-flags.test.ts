import { describe, expect, test } from '@jest/globals';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runCli } from '../helpers/cli.js';
import { useCliFixture } from '../helpers/cli-fixture.js';
import { pattern } from '../helpers/data.js';
import { readBody, sha256, startSink, type Sink } from '../helpers/sink-server.js';

const data = pattern(200_000);
const fx = useCliFixture(data);

/** A sink answering every upload with `status` and `body`, after reading it. */
async function answering(status: number, body: string, run: (sink: Sink) => Promise<void>): Promise<void> {
  const sink = await startSink((request, response) => {
    void readBody(request).then(() => {
      response.writeHead(status, { 'content-type': 'text/plain' });
      response.end(body);
    });
  });
  try {
    await run(sink);
  } finally {
    await sink.close();
  }
}

describe('what curl users type', () => {
  test('a URL without a scheme is taken as http://', async () => {
    const result = await runCli([fx.file, `${fx.sink.url.replace('http://', '')}/up`]);

    expect(result.code).toBe(0);
    expect(fx.sink.received[0]!.url).toBe('/up');
    expect(fx.sink.received[0]!.sha256).toBe(sha256(data));
  });

  test('-T FILE names the file, the one argument is the URL', async () => {
    const result = await runCli(['-T', fx.file, `${fx.sink.url}/up`]);

    expect(result.code).toBe(0);
    expect(fx.sink.received[0]!.sha256).toBe(sha256(data));
  });

  test('-T - reads stdin', async () => {
    const result = await runCli(['-T', '-', `${fx.sink.url}/up`], { input: data });

    expect(result.code).toBe(0);
    expect(fx.sink.received[0]!.sha256).toBe(sha256(data));
  });

  test('-T with a second argument is bad usage', async () => {
    const result = await runCli(['-T', fx.file, fx.file, fx.sink.url]);

    expect(result.code).toBe(2);
    expect(result.stderr).toBe('bhw: expected <url> after -T FILE, received 2 argument(s); see bhw --help\n');
  });

  test('-o FILE takes the answer body; stdout stays empty', async () => {
    const out = join(fx.dir, 'answer.json');
    const result = await runCli(['-o', out, fx.file, fx.sink.url]);

    expect(result.code).toBe(0);
    expect(result.stdout).toBe('');
    expect(JSON.parse(await readFile(out, 'utf8'))).toEqual({ bytes: data.length, sha256: sha256(data) });
  });

  test('-o into a missing directory is refused before a byte is sent', async () => {
    const result = await runCli(['-o', join(fx.dir, 'nowhere', 'answer.json'), fx.file, fx.sink.url]);

    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/^bhw: -o: cannot write .*answer\.json: no such directory\n$/);
    expect(fx.sink.requestCount).toBe(0);
  });

  test('-s: nothing on stderr, success or failure; the exit code says it', async () => {
    const ok = await runCli(['-s', '--progress', fx.file, fx.sink.url]);
    expect(ok.code).toBe(0);
    expect(ok.stderr).toBe('');

    await answering(500, 'disk full', async (sink) => {
      const result = await runCli(['-s', fx.file, sink.url]);
      expect(result.code).toBe(1);
      expect(result.stderr).toBe('');
    });
  });

  test('-sS: no summary, but the error is shown', async () => {
    await answering(500, 'disk full', async (sink) => {
      const result = await runCli(['-sS', fx.file, sink.url]);
      expect(result.code).toBe(1);
      expect(result.stderr).toMatch(
        /^bhw: upload failed: Server answered 500 Internal Server Error: disk full \(sent \d+ of 200000 bytes, 0 acknowledged\)\n$/,
      );
    });
  });

  test('-f: an HTTP error status exits 22, its body not shown', async () => {
    await answering(404, 'no such bucket', async (sink) => {
      const result = await runCli(['-f', fx.file, sink.url]);
      expect(result.code).toBe(22);
      expect(result.stdout).toBe('');
      expect(result.stderr).toMatch(/^bhw: upload failed: Server answered 404 Not Found \(sent \d+ of 200000 bytes, 0 acknowledged\)\n$/);
    });
  });

  test('-f --json: the error object has the status and exit code, not the body', async () => {
    await answering(404, 'no such bucket', async (sink) => {
      const result = await runCli(['-f', '--json', fx.file, sink.url]);
      expect(result.code).toBe(22);
      const report = JSON.parse(result.stdout) as { error: Record<string, unknown>; exitCode: number };
      expect(report.error).toEqual({ name: 'HttpStatusError', code: 'ERR_BHW_HTTP_STATUS', statusCode: 404, message: expect.stringContaining('404') });
      expect(report.exitCode).toBe(22);
      expect(result.stdout).not.toContain('no such bucket');
    });
  });

  test('--json on failure prints one JSON error object (for | jq)', async () => {
    await answering(500, 'disk full', async (sink) => {
      const result = await runCli(['--json', fx.file, sink.url]);
      expect(result.code).toBe(1);
      expect(JSON.parse(result.stdout)).toEqual({
        error: {
          name: 'HttpStatusError',
          code: 'ERR_BHW_HTTP_STATUS',
          statusCode: 500,
          message: 'Server answered 500 Internal Server Error: disk full',
          body: 'disk full',
        },
        exitCode: 1,
        bytesSent: expect.any(Number),
        bytesAcknowledged: 0,
      });
    });
  });

  test('-v: request and answer headers on stderr, every credential redacted', async () => {
    const host = fx.sink.url.replace('http://', '');
    const result = await runCli([
      '-v',
      '-u',
      'alice:s3cret-pw',
      '-H',
      'X-Api-Key: k3y-value',
      '--secret-header',
      'X-Trace',
      '-H',
      'X-Trace: tr4ce-value',
      fx.file,
      `${host}/up?token=t0ken-value&part=1`,
    ]);

    expect(result.code).toBe(0);
    const lines = result.stderr.split('\n');
    expect(lines).toContain('> POST /up?token=[REDACTED]&part=1 HTTP/1.1');
    expect(lines).toContain('> authorization: [REDACTED]');
    expect(lines).toContain('> x-api-key: [REDACTED]');
    expect(lines).toContain('> x-trace: [REDACTED]');
    expect(lines).toContain(`> Host: ${host}`);
    expect(lines).toContain('< HTTP/1.1 200 OK');
    expect(lines).toContain('< content-type: application/json');
    for (const secret of ['s3cret-pw', 'k3y-value', 'tr4ce-value', 't0ken-value', Buffer.from('alice:s3cret-pw').toString('base64')]) {
      expect(result.stderr).not.toContain(secret);
    }
  });
});

describe('mistakes are named, with the way out', () => {
  test('an unknown flag gets the nearest one and a pointer to --help', async () => {
    const result = await runCli(['--max-tme', '3', fx.file, fx.sink.url]);

    expect(result.code).toBe(2);
    expect(result.stderr).toBe('bhw: unknown option --max-tme (did you mean --max-time?); see bhw --help\n');
  });

  test('a flag far from any known one gets only the pointer', async () => {
    const result = await runCli(['--bogus', fx.file, fx.sink.url]);

    expect(result.stderr).toBe('bhw: unknown option --bogus; see bhw --help\n');
  });

  test('a flag without its value is named', async () => {
    const result = await runCli([fx.file, fx.sink.url, '--mode']);

    expect(result.code).toBe(2);
    expect(result.stderr).toBe('bhw: --mode needs a value; see bhw --help\n');
  });

  test('a size without a unit must be whole: 1.5 is not taken as 1 byte', async () => {
    const result = await runCli(['--high-water-mark', '1.5', fx.file, fx.sink.url]);

    expect(result.code).toBe(2);
    expect(result.stderr).toBe('bhw: --high-water-mark must be a whole number of bytes or have a unit (1.5MiB, say), received "1.5"\n');
    expect(fx.sink.requestCount).toBe(0);
  });

  test('an out-of-range size names its flag', async () => {
    const result = await runCli(['--high-water-mark', '10GiB', fx.file, fx.sink.url]);

    expect(result.code).toBe(2);
    expect(result.stderr).toBe('bhw: --high-water-mark must be at most 1073741824 bytes, received "10GiB"\n');
  });
});
