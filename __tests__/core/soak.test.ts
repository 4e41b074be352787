/**
 * Soak: 200 uploads in one process — sequential, then concurrent waves; stream,
 * batch and tus mixed; some through faults (stream cut by a proxy: must fail
 * typed; batch resets, 5xx and lost answers: must recover; tus throttled with
 * 503 + Retry-After: must recover). Afterwards nothing is left behind: no
 * socket, server, timer or handle beyond the baseline taken before
 * (`process.getActiveResourcesInfo()`), no abort listener on the shared signal,
 * no process listener, server connection counts 0, and the heap back near its
 * start.
 *
 * Heap: jest runs without --expose-gc, so the test asks V8 for `gc` itself
 * (`v8.setFlagsFromString('--expose-gc')` + `vm.runInNewContext('gc')`), which
 * makes a tight bound possible without touching package.json.
 *
 * Tus faults are answers from a front server, not cut connections: after a cut
 * PATCH, @tus/server aborts the lock holder with a timer of its own
 * (lockDrainTimeout) that would outlive the test by up to 100 ms and show up
 * as a server-side Timeout (tus cuts are covered in faults-tus).
 */
import { afterAll, beforeAll, describe, expect, jest, test } from '@jest/globals';
import { getEventListeners, once, setMaxListeners } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { BufferedHttpWritable, type BufferedHttpWritableOptions, type UploadMode } from '../../lib/index.js';
import { randomFaults, seededRandom, startBatchServer, type BatchServer } from '../helpers/batch-server.js';
import { chunksOf, pattern } from '../helpers/data.js';
import { startFaultProxy, type FaultProxy } from '../helpers/fault-proxy.js';
import { runUpload } from '../helpers/outcome.js';
import { readBody, sha256, startSink, type Sink } from '../helpers/sink-server.js';
import { trackingGot, type TrackingGot } from '../helpers/tracking-got.js';
import { startTusServer, type TusTestServer } from '../helpers/tus-server.js';

jest.setTimeout(60_000);

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const TOTAL = 200;
const SEQUENTIAL = 60;
const WAVE = 20;

function resourceCounts(): Map<string, number> {
  const counts = new Map<string, number>();
  for (const name of process.getActiveResourcesInfo()) counts.set(name, (counts.get(name) ?? 0) + 1);
  return counts;
}

function heapUsed(): number {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

type Kind = 'stream' | 'stream-cut' | 'batch' | 'batch-faults' | 'tus' | 'tus-throttled';
const KINDS: Kind[] = ['stream', 'stream-cut', 'batch', 'batch-faults', 'tus', 'tus-throttled'];

interface Servers {
  sink: Sink;
  cutting: FaultProxy;
  batch: BatchServer;
  faultyBatch: BatchServer;
  tus: TusTestServer;
  throttlingFront: { url: string; throttled: number; close(): Promise<void> };
}

describe('soak: 200 uploads leave nothing behind', () => {
  let baseline: Map<string, number>;
  let heapBefore: number;
  let processListeners: number;
  let servers: Servers;
  let tracking: TrackingGot;
  const controller = new AbortController();
  // One signal shared by a wave of 20 uploads: 20 listeners at once is by design, not a leak.
  setMaxListeners(WAVE + 5, controller.signal);

  beforeAll(async () => {
    baseline = resourceCounts();
    processListeners = process.eventNames().reduce((sum, name) => sum + process.listenerCount(name), 0);
    const sink = await startSink();
    const tus = await startTusServer();
    // Every third connection to the sink is cut after 40 KB: a stream upload on it must fail typed.
    const cutting = await startFaultProxy(sink.url, { fault: (connection) => (connection % 3 === 2 ? { kind: 'cut', afterBytes: 40_000 } : { kind: 'pass' }) });
    const front = { url: '', throttled: 0, close: async () => {} };
    let patches = 0;
    const frontServer = createServer((request, response) => {
      if (request.method === 'PATCH' && patches++ % 4 === 1) {
        front.throttled++;
        void readBody(request).then(() => {
          response.writeHead(503, { 'retry-after': '0', 'tus-resumable': '1.0.0' });
          response.end('busy');
        });
        return;
      }
      void tus.tus.handle(request, response);
    });
    frontServer.listen(0, '127.0.0.1');
    await once(frontServer, 'listening');
    front.url = `http://127.0.0.1:${(frontServer.address() as AddressInfo).port}/files`;
    front.close = async () => {
      frontServer.closeAllConnections();
      frontServer.close();
      await once(frontServer, 'close');
    };
    servers = {
      sink,
      cutting,
      batch: await startBatchServer(),
      faultyBatch: await startBatchServer(randomFaults(2024, { rate: 0.3 })),
      tus,
      throttlingFront: front,
    };
    tracking = trackingGot({ keepAlive: true });
  });

  afterAll(async () => {
    // Idempotent: the test closes everything itself to check what is left.
    await closeAll();
  });

  let closed = false;
  async function closeAll(): Promise<void> {
    if (closed || !servers) return;
    closed = true;
    await servers.cutting.close();
    await servers.throttlingFront.close();
    await servers.sink.close();
    await servers.batch.close();
    await servers.faultyBatch.close();
    await servers.tus.close();
    await tracking.allClosed();
  }

  /** One upload of `kind`; checks its outcome; returns whether it failed (as expected for some stream-cut runs). */
  async function upload(index: number, kind: Kind): Promise<'ok' | 'failed'> {
    const random = seededRandom(index + 1);
    const size = Math.floor(random() * 200_000);
    const data = pattern(size, index + 1);
    const highWaterMark = 8192 + Math.floor(random() * 56_000);
    const mode: UploadMode = kind.startsWith('stream') ? 'stream' : kind.startsWith('batch') ? 'batch' : 'tus';
    const url = {
      stream: servers.sink.url,
      'stream-cut': servers.cutting.url(servers.sink.url),
      batch: servers.batch.url,
      'batch-faults': servers.faultyBatch.url,
      tus: servers.tus.url,
      'tus-throttled': servers.throttlingFront.url,
    }[kind];
    // The mode is chosen at run time: each mode's own keys are added under its condition.
    const options = {
      mode,
      highWaterMark,
      got: tracking.got,
      signal: controller.signal,
      headers: { 'x-upload': String(index) },
      ...(mode === 'stream' ? {} : { retry: { backoffLimit: 2, limit: 8 } }),
      ...(mode === 'batch' ? { concurrency: 1 + (index % 3) } : {}),
    };
    const writable = new BufferedHttpWritable(url, options as BufferedHttpWritableOptions);
    const { error } = await runUpload(writable, chunksOf(data, [1000 + (index % 7) * 3000]));
    if (error) {
      // Only a stream upload through the cutting proxy may fail, and then typed, with nothing acknowledged.
      expect(kind).toBe('stream-cut');
      expect(error).toMatchObject({ code: 'ERR_BHW_NETWORK', bytesAcknowledged: 0 });
      return 'failed';
    }
    if (mode === 'stream') {
      const received = servers.sink.received.find((request) => request.headers['x-upload'] === String(index));
      expect(received?.sha256).toBe(sha256(data));
    } else if (mode === 'tus') {
      expect((await servers.tus.stored(writable.uploadUrl!)).sha256).toBe(sha256(data));
    } else {
      const server = kind === 'batch' ? servers.batch : servers.faultyBatch;
      const batches = [...server.stored.values()].filter((batch) => batch.headers['x-upload'] === String(index)).sort((a, b) => a.sequence - b.sequence);
      expect(sha256(Buffer.concat(batches.map((batch) => batch.body)))).toBe(sha256(data));
    }
    expect(writable.bytesAcknowledged).toBe(size);
    return 'ok';
  }

  test('sequential and concurrent, mixed modes and faults', async () => {
    const outcomes: Array<'ok' | 'failed'> = [];
    for (let index = 0; index < SEQUENTIAL; index++) {
      outcomes.push(await upload(index, KINDS[index % KINDS.length]!));
      // Each mode's code loads on its first upload (and, under coverage, its counters with it): the
      // heap is measured from after the first upload of every kind, so it shows what uploads leave.
      if (index === KINDS.length - 1) heapBefore = heapUsed();
    }
    for (let start = SEQUENTIAL; start < TOTAL; start += WAVE) {
      const wave = Array.from({ length: Math.min(WAVE, TOTAL - start) }, (_value, offset) => upload(start + offset, KINDS[(start + offset) % KINDS.length]!));
      outcomes.push(...(await Promise.all(wave)));
    }
    expect(outcomes).toHaveLength(TOTAL);
    // The faults did happen, and only the unrecoverable ones failed.
    expect(outcomes.filter((outcome) => outcome === 'failed').length).toBeGreaterThan(0);
    expect(servers.cutting.faults).toBeGreaterThan(0);
    expect(servers.faultyBatch.duplicates + servers.faultyBatch.attempts.filter((attempt) => attempt.fault.kind !== 'ok').length).toBeGreaterThan(0);
    expect(servers.faultyBatch.mismatches).toBe(0);
    expect(servers.throttlingFront.throttled).toBeGreaterThan(0);

    // No listener left on the shared signal: every upload removed its own.
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);

    await closeAll();
    expect(servers.sink.server.connections ?? 0).toBe(0);
    expect(servers.batch.connections).toBe(0);
    expect(servers.faultyBatch.connections).toBe(0);
    expect(servers.cutting.open).toBe(0);
    expect(tracking.sockets.length).toBeGreaterThan(0);
    expect(tracking.sockets.every((socket) => socket.destroyed)).toBe(true);

    // Nothing beyond the baseline (jest's own timers come and go, so fewer is fine), and no socket or server at all.
    // File-system requests are left out: jest itself (coverage, cache) may have one under way at any moment.
    const left = resourceCounts();
    for (const [name, count] of left) {
      if (name.startsWith('FSReq')) continue;
      expect({ name, count }).toEqual({ name, count: Math.min(count, baseline.get(name) ?? 0) });
    }
    expect(left.get('TCPSocketWrap') ?? 0).toBe(0);
    expect(left.get('TCPServerWrap') ?? 0).toBe(0);
    expect(process.eventNames().reduce((sum, name) => sum + process.listenerCount(name), 0)).toBe(processListeners);
    // Back near where the first of each kind left it: 194 more uploads of up to 200 KB passed through; what is left is test bookkeeping
    // (the servers' records of every body, now unreachable) and V8's own caches.
    const growth = heapUsed() - heapBefore;
    expect(growth).toBeLessThan(16 * 1024 * 1024);
  });
});
