import { EventEmitter, once } from 'node:events';
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { gunzipSync } from 'node:zlib';
import { readBody } from './sink-server.js';
import { waitForChange } from './wait-for.js';

/** What the server does with one request. */
export type Fault =
  | { kind: 'ok' }
  /** Answer this status (after reading the body); `close` asks for `Connection: close`. */
  | { kind: 'status'; status: number; retryAfter?: string; body?: string; close?: boolean }
  /** Cut the connection once this fraction of the body (0 ≤ at < 1) has arrived. */
  | { kind: 'reset'; at: number }
  /** Read and store the batch, then cut the connection without answering: the client must retry a batch the server already has. */
  | { kind: 'drop-after-store' }
  /** Read the body and never answer. */
  | { kind: 'hold' };

/** One request as it arrived: every attempt of every batch, in arrival order. */
export interface BatchAttempt {
  sequence: number;
  offset: number;
  key: string;
  /** 1 for the first request with this Idempotency-Key. */
  attempt: number;
  headers: IncomingHttpHeaders;
  /** The request target: path and query. */
  url: string;
  fault: Fault;
  /** The server finished writing its answer. */
  answered: boolean;
}

/** A batch the server kept: the first complete body for its Idempotency-Key. */
export interface StoredBatch {
  sequence: number;
  offset: number;
  key: string;
  /** The body as sent (compressed when it was). */
  wire: Buffer;
  /** The body after `Content-Encoding` was undone. */
  body: Buffer;
  headers: IncomingHttpHeaders;
}

export type FaultPlan = (request: { sequence: number; attempt: number; key: string }) => Fault;

export interface BatchServer {
  readonly url: string;
  readonly attempts: BatchAttempt[];
  /** Stored batches by Idempotency-Key (duplicates dropped). */
  readonly stored: Map<string, StoredBatch>;
  /** Complete bodies that repeated a stored key. */
  duplicates: number;
  /** Repeats of a key whose body differed from the stored one: must stay 0. */
  mismatches: number;
  inFlight: number;
  maxInFlight: number;
  /** Open TCP connections. */
  connections: number;
  /** While true, 2xx answers wait (the batch is stored at once); `resume()` sends them. */
  paused: boolean;
  resume(): void;
  /** Stored batches ordered by Batch-Sequence. */
  ordered(): StoredBatch[];
  /** The stored bodies, decoded, deduplicated and in sequence order: what the server reassembles. */
  assembled(): Buffer;
  /** Resolves once `condition()` holds; re-checked after every server event. */
  waitFor(condition: () => boolean): Promise<void>;
  close(): Promise<void>;
}

/** A small seeded PRNG (mulberry32): the same seed gives the same faults on every run. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Random faults on the first `faultyAttempts` attempts of each batch, decided
 * from (seed, sequence, attempt) alone so the plan does not depend on the
 * order in which concurrent requests arrive.
 */
export function randomFaults(seed: number, { rate = 0.4, faultyAttempts = 2 } = {}): FaultPlan {
  return ({ sequence, attempt }) => {
    if (attempt > faultyAttempts) return { kind: 'ok' };
    const random = seededRandom(seed * 7919 + sequence * 104_729 + attempt);
    if (random() >= rate) return { kind: 'ok' };
    switch (Math.floor(random() * 5)) {
      case 0:
        return { kind: 'status', status: 503, retryAfter: '0', body: 'busy' };
      case 1:
        return { kind: 'status', status: random() < 0.5 ? 500 : 429, body: 'try again' };
      case 2:
        return { kind: 'reset', at: random() };
      case 3:
        return { kind: 'reset', at: 0 };
      default:
        return { kind: 'drop-after-store' };
    }
  };
}

/**
 * A batch-mode receiver on 127.0.0.1 (port 0 unless given: a test that
 * brings a server back up at the same address), that injects faults, drops
 * duplicates by `Idempotency-Key` and orders batches by `Batch-Sequence`.
 */
export async function startBatchServer(
  plan: FaultPlan = () => ({ kind: 'ok' }),
  { port = 0, keyQuery }: { port?: number; /** Read the key from this query parameter instead of the header. */ keyQuery?: string } = {},
): Promise<BatchServer> {
  const events = new EventEmitter();
  const changed = (): void => {
    events.emit('change');
  };
  const attemptsByKey = new Map<string, number>();
  const held: Array<() => void> = [];

  const state: BatchServer = {
    url: '',
    attempts: [],
    stored: new Map(),
    duplicates: 0,
    mismatches: 0,
    inFlight: 0,
    maxInFlight: 0,
    connections: 0,
    paused: false,
    resume: () => {
      state.paused = false;
      for (const answer of held.splice(0)) answer();
    },
    ordered: () => [...state.stored.values()].sort((a, b) => a.sequence - b.sequence),
    assembled: () => Buffer.concat(state.ordered().map((batch) => batch.body)),
    waitFor: (condition) => waitForChange(events, condition),
    close: async () => {
      server.closeAllConnections();
      server.close();
      await once(server, 'close');
    },
  };

  const store = (attempt: BatchAttempt, wire: Buffer): void => {
    const body = attempt.headers['content-encoding'] === 'gzip' ? gunzipSync(wire) : wire;
    const existing = state.stored.get(attempt.key);
    if (existing) {
      state.duplicates++;
      if (!existing.body.equals(body)) state.mismatches++;
    } else {
      state.stored.set(attempt.key, { sequence: attempt.sequence, offset: attempt.offset, key: attempt.key, wire, body, headers: attempt.headers });
    }
    changed();
  };

  const handle = async (request: IncomingMessage, response: ServerResponse): Promise<void> => {
    const key = keyQuery === undefined ? String(request.headers['idempotency-key']) : String(new URL(request.url!, 'http://x').searchParams.get(keyQuery));
    const number = (attemptsByKey.get(key) ?? 0) + 1;
    attemptsByKey.set(key, number);
    const sequence = Number(request.headers['batch-sequence']);
    const fault = plan({ sequence, attempt: number, key });
    const attempt: BatchAttempt = {
      sequence,
      offset: Number(request.headers['batch-offset']),
      key,
      attempt: number,
      headers: request.headers,
      url: request.url!,
      fault,
      answered: false,
    };
    state.attempts.push(attempt);

    // In flight from arrival until the server starts to answer or the connection ends,
    // so the client cannot start its next request while this one still counts.
    state.inFlight++;
    state.maxInFlight = Math.max(state.maxInFlight, state.inFlight);
    let counted = true;
    const done = (): void => {
      if (!counted) return;
      counted = false;
      state.inFlight--;
      changed();
    };
    response.on('close', done);
    response.on('finish', () => {
      attempt.answered = true;
      changed();
    });
    request.on('error', () => {});
    changed();

    if (fault.kind === 'reset') {
      const cut = Math.floor(fault.at * Number(request.headers['content-length'] ?? 0));
      const reset = (): void => {
        done();
        request.socket.destroy();
      };
      if (cut === 0) return reset();
      let received = 0;
      request.on('data', (chunk: Buffer) => {
        received += chunk.length;
        if (received >= cut) reset();
      });
      request.on('end', reset);
      return;
    }

    let wire: Buffer;
    try {
      wire = await readBody(request);
    } catch {
      done();
      return;
    }
    switch (fault.kind) {
      case 'hold':
        return;
      case 'drop-after-store':
        store(attempt, wire);
        done();
        request.socket.destroy();
        return;
      case 'status':
        done();
        response.writeHead(fault.status, {
          'content-type': 'text/plain',
          ...(fault.retryAfter !== undefined ? { 'retry-after': fault.retryAfter } : {}),
          ...(fault.close ? { connection: 'close' } : {}),
        });
        response.end(fault.body ?? '');
        return;
      case 'ok': {
        store(attempt, wire);
        const answer = (): void => {
          done();
          response.writeHead(200, { 'content-type': 'application/json' });
          response.end(JSON.stringify({ sequence, bytes: wire.length }));
        };
        if (state.paused) held.push(answer);
        else answer();
      }
    }
  };

  const server = createServer((request, response) => void handle(request, response));
  server.on('connection', (socket: Socket) => {
    state.connections++;
    socket.on('close', () => {
      state.connections--;
      changed();
    });
  });
  server.listen(port, '127.0.0.1');
  await once(server, 'listening');
  (state as { url: string }).url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return state;
}

/**
 * NDJSON log lines of seeded random length (some longer than `longLine`
 * bytes when asked), each ending in `\n`: one record per `write()`.
 */
export function ndjsonLines(count: number, seed: number, { longEvery = 0, longLine = 0 } = {}): string[] {
  const random = seededRandom(seed);
  const lines: string[] = [];
  for (let i = 0; i < count; i++) {
    const long = longEvery > 0 && i % longEvery === longEvery - 1;
    const size = long ? longLine + Math.floor(random() * longLine) : Math.floor(random() * 200);
    lines.push(`${JSON.stringify({ i, level: random() < 0.1 ? 'warn' : 'info', msg: 'x'.repeat(size), note: 'héllo 日本 🚀' })}\n`);
  }
  return lines;
}
