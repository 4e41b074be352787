/**
 * Certificates made for one test run with the system's `openssl`, and an HTTPS
 * sink on 127.0.0.1, port 0, that serves them.
 *
 *   const certs = makeCertificates();            // a CA and a leaf it signed
 *   const server = await startHttpsSink(certs);  // leaf for 127.0.0.1 and localhost
 *   got.extend({ https: { certificateAuthority: certs.ca } })  // trusts it
 *
 * Nothing is trusted by default: the CA is fresh, so a client that still
 * verifies certificates refuses the server unless given `certs.ca`.
 */
import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { Http2SecureServer, ServerHttp2Session } from 'node:http2';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { recordAndAnswer, type ReceivedRequest, type Sink, type SinkHandler } from './sink-server.js';

export interface TestCertificates {
  /** PEM of the CA that signed `cert`. */
  ca: string;
  /** PEM of the server's key and certificate (subjectAltName 127.0.0.1 and localhost, unless `names` said otherwise). */
  key: string;
  cert: string;
  /** PEM of a second, unrelated CA: trusting it must not make `cert` trusted. */
  otherCa: string;
}

/** The SAN entries of the leaf: `IP:127.0.0.1`, `DNS:localhost`. */
const DEFAULT_NAMES = ['IP:127.0.0.1', 'DNS:localhost'];

/** Runs openssl in a fresh temporary directory, removed afterwards. Synchronous: once per test file. */
export function makeCertificates({ names = DEFAULT_NAMES }: { names?: string[] } = {}): TestCertificates {
  const dir = mkdtempSync(join(tmpdir(), 'bhw-tls-'));
  const ssl = (...args: string[]): void => {
    execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  };
  try {
    const ca = (name: string): void =>
      ssl(
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-keyout',
        `${name}.key`,
        '-out',
        `${name}.pem`,
        '-days',
        '2',
        '-subj',
        `/CN=${name} test CA`,
        '-addext',
        'basicConstraints=critical,CA:TRUE',
        '-addext',
        'keyUsage=critical,keyCertSign,cRLSign',
      );
    ca('ca');
    ca('other');
    ssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=bhw test server');
    writeFileSync(join(dir, 'server.ext'), `subjectAltName=${names.join(',')}\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n`);
    ssl(
      'x509',
      '-req',
      '-in',
      'server.csr',
      '-CA',
      'ca.pem',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-out',
      'server.pem',
      '-days',
      '2',
      '-extfile',
      'server.ext',
    );
    const read = (file: string): string => readFileSync(join(dir, file), 'utf8');
    return { ca: read('ca.pem'), key: read('server.key'), cert: read('server.pem'), otherCa: read('other.pem') };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** An HTTPS recording sink: the same contract as `startSink`, over TLS. */
export interface HttpsSink extends Omit<Sink, 'server'> {
  readonly server: Server;
  /** TCP connections accepted (a client that refuses the certificate still opens one). */
  connections: number;
}

export async function startHttpsSink(certs: TestCertificates, handler?: SinkHandler): Promise<HttpsSink> {
  const received: ReceivedRequest[] = [];
  const server = createServer({ key: certs.key, cert: certs.cert });
  const sink: HttpsSink = {
    url: '',
    server,
    received,
    requestCount: 0,
    inFlight: 0,
    maxInFlight: 0,
    connections: 0,
    close: async () => {
      server.closeAllConnections();
      server.close();
      await once(server, 'close');
    },
  };
  server.on('connection', () => sink.connections++);
  server.on('request', (request, response) => {
    sink.requestCount++;
    sink.inFlight++;
    sink.maxInFlight = Math.max(sink.maxInFlight, sink.inFlight);
    response.on('close', () => sink.inFlight--);
    // The handlers only read `received`, so the HTTPS sink passes for a Sink.
    const asSink = sink as unknown as Sink;
    if (handler && handler(request, response, asSink) !== 'default') return;
    void recordAndAnswer(request, response, asSink);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  (sink as { url: string }).url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return sink;
}

/**
 * Starts an HTTP/2 server on 127.0.0.1, port 0. got's HTTP/2 sessions stay
 * open for reuse (http2-wrapper), so `close()` ends them from this side
 * before it closes the server.
 */
export async function listenH2(server: Http2SecureServer, path = '/upload'): Promise<{ url: string; close(): Promise<void> }> {
  const sessions = new Set<ServerHttp2Session>();
  server.on('session', (session: ServerHttp2Session) => {
    sessions.add(session);
    session.on('close', () => sessions.delete(session));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    url: `https://127.0.0.1:${(server.address() as AddressInfo).port}${path}`,
    async close() {
      for (const session of sessions) session.destroy();
      server.close();
      await once(server, 'close');
    },
  };
}
