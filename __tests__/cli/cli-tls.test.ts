/**
 * bhw against an HTTPS server whose certificate was signed by a CA made for
 * this run: --cacert trusts it, -k skips verification and says so, and
 * without either the upload fails with the TLS error.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runCli } from '../helpers/cli.js';
import { useCliFixture } from '../helpers/cli-fixture.js';
import { pattern } from '../helpers/data.js';
import { sha256 } from '../helpers/sink-server.js';
import { makeCertificates, startHttpsSink, type HttpsSink, type TestCertificates } from '../helpers/tls.js';

const data = pattern(200_000);
const fx = useCliFixture(data, { sink: false });
let certs: TestCertificates;
let sink: HttpsSink;

beforeAll(async () => {
  certs = makeCertificates();
  sink = await startHttpsSink(certs);
});
afterAll(async () => {
  await sink.close();
});

async function pem(name: string, text: string): Promise<string> {
  const path = join(fx.dir, name);
  await writeFile(path, text);
  return path;
}

describe('--cacert', () => {
  test('with the CA that signed the server: uploaded exactly', async () => {
    const before = sink.received.length;
    const result = await runCli(['--sha256', '--cacert', await pem('ca.pem', certs.ca), fx.file, sink.url]);

    expect(result.code).toBe(0);
    expect(sink.received[before]!.sha256).toBe(sha256(data));
    expect(result.stderr).toContain(`sha256 ${sha256(data)}`);
  });

  test('without it: exit 1 with the TLS error', async () => {
    const result = await runCli([fx.file, sink.url]);

    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(
      /^bhw: upload failed: Connection failed \((UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_GET_ISSUER_CERT_LOCALLY)\)/,
    );
  });

  test('with an unrelated CA: exit 1, the certificate is still refused', async () => {
    const result = await runCli(['--mode', 'batch', '--cacert', await pem('other.pem', certs.otherCa), fx.file, sink.url]);

    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(
      /^bhw: upload failed: Connection failed \((UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_GET_ISSUER_CERT_LOCALLY)\)/,
    );
  });

  test('a file that cannot be read: exit 2', async () => {
    const result = await runCli(['--cacert', join(fx.dir, 'missing.pem'), fx.file, sink.url]);

    expect(result.code).toBe(2);
    expect(result.stderr).toBe(`bhw: --cacert: cannot read ${join(fx.dir, 'missing.pem')}: no such file\n`);
  });
});

describe('-k/--insecure', () => {
  test.each([['-k'], ['--insecure']])('%s: uploaded, and stderr says verification is off', async (flag) => {
    const before = sink.received.length;
    const result = await runCli([flag, '--quiet', fx.file, sink.url]);

    expect(result.code).toBe(0);
    expect(sink.received[before]!.sha256).toBe(sha256(data));
    // Said even with --quiet: it is a warning, not progress.
    expect(result.stderr).toMatch(/^bhw: warning: -k\/--insecure: the server's TLS certificate is not verified/);
  });
});
