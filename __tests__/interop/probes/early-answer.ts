/**
 * Probe (not a test): where does HAProxy's early answer get lost? Starts
 * HAProxy with configs/haproxy-early.cfg in front of a sink, then uploads 32
 * MiB to /deny-413 and /return-401 `RUNS` times each with three clients and
 * tallies what each saw:
 *
 * - raw: a node:net socket that writes the request as fast as it can and
 *   records, in order, the response bytes, FIN ('end') and the error;
 * - http: node:http `request()`: does 'response' come before 'error'?
 * - got: `got.stream.post` with `throwHttpErrors: false`, the same question.
 *
 *   npm run build && node dist/__tests__/interop/probes/early-answer.js [RUNS]
 */
import { request } from 'node:http';
import { createConnection } from 'node:net';
import got from 'got';
import { startSink } from '../../helpers/sink-server.js';
import { startServer, stopAll } from '../harness.js';

const MiB = 1024 * 1024;
const BODY = Buffer.alloc(32 * MiB, 'x');
const PIECE = 256 * 1024;

type Trace = string[];

/** Writes head then BODY in pieces, as fast as the socket takes them; records what comes back. */
function rawClient(port: number, path: string): Promise<Trace> {
  return new Promise((resolve) => {
    const trace: Trace = [];
    let written = 0;
    let received = '';
    const socket = createConnection({ host: '127.0.0.1', port });
    const finish = (): void => resolve(trace);
    socket.on('connect', () => {
      socket.write(`POST ${path} HTTP/1.1\r\nHost: x\r\nContent-Length: ${BODY.length}\r\n\r\n`);
      const pump = (): void => {
        while (written < BODY.length) {
          const ok = socket.write(BODY.subarray(written, written + PIECE));
          written += PIECE;
          if (!ok) return void socket.once('drain', pump);
        }
      };
      pump();
    });
    socket.on('data', (data: Buffer) => {
      if (!received) trace.push(`data(${/^HTTP\/1\.1 (\d+)/.exec(data.toString('latin1'))?.[1] ?? '?'}) after ${written / MiB} MiB queued`);
      received += data.toString('latin1');
    });
    socket.on('end', () => trace.push('end(FIN)'));
    socket.on('error', (error: NodeJS.ErrnoException) => trace.push(`error(${error.code})${received ? '' : ' with no response read'}`));
    socket.on('close', finish);
  });
}

function httpClient(port: number, path: string): Promise<Trace> {
  return new Promise((resolve) => {
    const trace: Trace = [];
    const req = request({ host: '127.0.0.1', port, path, method: 'POST', headers: { 'content-length': BODY.length } });
    req.on('response', (response) => {
      trace.push(`response(${response.statusCode})`);
      response.resume();
      response.on('end', () => trace.push('response end'));
      response.on('error', (error: NodeJS.ErrnoException) => trace.push(`response error(${error.code})`));
    });
    req.on('error', (error: NodeJS.ErrnoException) => trace.push(`error(${error.code})`));
    req.on('close', () => resolve(trace));
    let written = 0;
    const pump = (): void => {
      while (written < BODY.length) {
        const ok = req.write(BODY.subarray(written, written + PIECE));
        written += PIECE;
        if (!ok) return void req.once('drain', pump);
      }
      req.end();
    };
    pump();
  });
}

function gotClient(port: number, path: string): Promise<Trace> {
  return new Promise((resolve) => {
    const trace: Trace = [];
    const stream = got.stream.post(`http://127.0.0.1:${port}${path}`, { throwHttpErrors: false, retry: { limit: 0 }, timeout: { request: 30_000 } });
    stream.on('response', (response: { statusCode: number }) => trace.push(`response(${response.statusCode})`));
    stream.on('data', () => {});
    stream.on('end', () => trace.push('end'));
    stream.on('error', (error: NodeJS.ErrnoException) => trace.push(`error(${error.code})`));
    stream.on('close', () => resolve(trace));
    let written = 0;
    const pump = (): void => {
      while (written < BODY.length) {
        const ok = stream.write(BODY.subarray(written, written + PIECE));
        written += PIECE;
        if (!ok) return void stream.once('drain', pump);
      }
      stream.end();
    };
    pump();
  });
}

async function main(): Promise<void> {
  const runs = Number(process.argv[2] ?? 10);
  const sink = await startSink();
  try {
    const haproxy = await startServer({
      name: 'haproxy-probe',
      config: 'haproxy-early.cfg',
      vars: { UPSTREAM: new URL(sink.url).host },
      ports: ['PORT'],
      command: (c) => ['/usr/sbin/haproxy', '-db', '-f', c.configPath],
    });
    const port = haproxy.ports.PORT!;
    for (const path of ['/return-401', '/deny-413']) {
      for (const [name, client] of [
        ['raw', rawClient],
        ['http', httpClient],
        ['got', gotClient],
      ] as const) {
        const tally = new Map<string, number>();
        for (let run = 0; run < runs; run++) {
          const trace = (await client(port, path)).join(' → ').replace(/after [\d.]+ MiB queued/, 'after N MiB queued');
          tally.set(trace, (tally.get(trace) ?? 0) + 1);
        }
        for (const [trace, count] of tally) console.log(`${path} ${name}: ${count}/${runs} ${trace}`);
      }
    }
  } finally {
    await stopAll();
    await sink.close();
  }
}

await main();
