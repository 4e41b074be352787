import { EventEmitter, once } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { gunzipSync } from 'node:zlib';
import { readBody } from './sink-server.js';
import { waitForChange } from './wait-for.js';

/**
 * Batch receivers with a capacity, for the overload tests (adaptive
 * concurrency, one backoff clock, 413 splits) and bench/drivers/overload.ts:
 *
 * - `refuse`: answers 429 (with `Retry-After` when asked) to any request that
 *   arrives while `capacity` requests are already being served;
 * - `queue`: serves `capacity` requests at once and queues the rest, so
 *   latency grows with load and nothing is ever refused;
 * - `maxBodyBytes`: answers 413 to a body larger than this (wire bytes).
 *
 * Every kind drops duplicates by `Idempotency-Key`, keeps each batch by its
 * `Batch-Offset`, and counts requests, answers by status and the highest
 * concurrency seen. On 127.0.0.1, port 0; the test that starts one closes it.
 */
export interface CapacityServerOptions {
  /** What happens above `capacity` requests being served at once (default: no limit). */
  overload?: { kind: 'refuse'; capacity: number; retryAfter?: string } | { kind: 'queue'; capacity: number };
  /** Bodies larger than this many bytes (as sent) are answered 413. */
  maxBodyBytes?: number;
  /** How long serving one request takes, ms (a timer in the server; default 0). */
  latencyMs?: number;
  /** Start with `holding` set: served requests wait for `release()` before answering. */
  hold?: boolean;
}

/** A batch the server kept: the first complete body for its Idempotency-Key. */
export interface CapacityStoredBatch {
  key: string;
  sequence: number;
  offset: number;
  /** The body after `Content-Encoding` was undone. */
  body: Buffer;
}

export interface CapacityServer {
  readonly url: string;
  /** Requests that arrived (every attempt). */
  requests: number;
  /** Every arrival, in order: `performance.now()` when its headers were read, and its Idempotency-Key. */
  readonly arrivals: Array<{ at: number; key: string }>;
  /** Answers sent, by status. */
  readonly answers: Map<number, number>;
  /** 429s sent (`answers.get(429) ?? 0`). */
  readonly refused: number;
  /** Requests open at the server (arrived, not yet answered), and the highest seen. */
  inFlight: number;
  maxInFlight: number;
  /** Requests being served (not refused, not queued), and the highest seen. */
  active: number;
  maxActive: number;
  /** Requests waiting in the queue (`queue` only). */
  queued: number;
  /** Stored batches by Idempotency-Key. */
  readonly stored: Map<string, CapacityStoredBatch>;
  /** Complete bodies that repeated a stored key (answered 200, not stored again). */
  duplicates: number;
  /** Repeats of a key whose body differed from the stored one: must stay 0. */
  mismatches: number;
  /** While true, served requests wait for `release()` before they answer. */
  holding: boolean;
  release(): void;
  /** Stored batches ordered by offset. */
  byOffset(): CapacityStoredBatch[];
  /** The stored bodies concatenated in offset order: what the server reassembles. */
  assembled(): Buffer;
  /** Gaps or overlaps between stored batches in offset order (empty when they tile the upload). */
  problems(): string[];
  /** Resolves once `condition()` holds; re-checked after every server event. */
  waitFor(condition: () => boolean): Promise<void>;
  close(): Promise<void>;
}

export function startRefusingServer(capacity: number, options: { retryAfter?: string; latencyMs?: number; hold?: boolean } = {}): Promise<CapacityServer> {
  const { retryAfter, ...rest } = options;
  return startCapacityServer({ ...rest, overload: retryAfter === undefined ? { kind: 'refuse', capacity } : { kind: 'refuse', capacity, retryAfter } });
}

export function startQueueingServer(capacity: number, options: { latencyMs?: number; hold?: boolean } = {}): Promise<CapacityServer> {
  return startCapacityServer({ ...options, overload: { kind: 'queue', capacity } });
}

export function startSizeLimitServer(maxBodyBytes: number, options: { latencyMs?: number; hold?: boolean } = {}): Promise<CapacityServer> {
  return startCapacityServer({ ...options, maxBodyBytes });
}

export async function startCapacityServer(options: CapacityServerOptions = {}): Promise<CapacityServer> {
  const { overload, maxBodyBytes, latencyMs = 0 } = options;
  const events = new EventEmitter();
  const changed = (): void => {
    events.emit('change');
  };
  const queue: Array<() => void> = [];
  const held: Array<() => void> = [];
  const timers = new Set<NodeJS.Timeout>();

  const state: CapacityServer = {
    url: '',
    requests: 0,
    arrivals: [],
    answers: new Map(),
    get refused() {
      return state.answers.get(429) ?? 0;
    },
    inFlight: 0,
    maxInFlight: 0,
    active: 0,
    maxActive: 0,
    queued: 0,
    stored: new Map(),
    duplicates: 0,
    mismatches: 0,
    holding: options.hold ?? false,
    release: () => {
      state.holding = false;
      for (const answer of held.splice(0)) answer();
    },
    byOffset: () => [...state.stored.values()].sort((a, b) => a.offset - b.offset || a.sequence - b.sequence),
    assembled: () => Buffer.concat(state.byOffset().map((batch) => batch.body)),
    problems: () => {
      const problems: string[] = [];
      let expected = 0;
      for (const batch of state.byOffset()) {
        if (batch.offset !== expected)
          problems.push(`${batch.offset > expected ? 'gap' : 'overlap'} at ${expected}: next batch ${batch.key} starts at ${batch.offset}`);
        expected = batch.offset + batch.body.length;
      }
      return problems;
    },
    waitFor: (condition) => waitForChange(events, condition),
    close: async () => {
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      server.closeAllConnections();
      server.close();
      await once(server, 'close');
    },
  };

  const answer = (response: ServerResponse, status: number, headers: Record<string, string> = {}, body = ''): void => {
    state.answers.set(status, (state.answers.get(status) ?? 0) + 1);
    response.writeHead(status, { 'content-type': 'text/plain', ...headers });
    response.end(body);
  };

  const store = (request: IncomingMessage, wire: Buffer): void => {
    const key = String(request.headers['idempotency-key']);
    const body = request.headers['content-encoding'] === 'gzip' ? gunzipSync(wire) : wire;
    const existing = state.stored.get(key);
    if (existing) {
      state.duplicates++;
      if (!existing.body.equals(body)) state.mismatches++;
      return;
    }
    state.stored.set(key, { key, sequence: Number(request.headers['batch-sequence']), offset: Number(request.headers['batch-offset']), body });
  };

  /** Serves one request in a slot: store, wait the latency (and any hold), answer, free the slot. */
  const serve = (request: IncomingMessage, response: ServerResponse, wire: Buffer): void => {
    store(request, wire);
    changed();
    const finish = (): void => {
      if (!response.destroyed) answer(response, 200, {}, JSON.stringify({ bytes: wire.length }));
      state.active--;
      queue.shift()?.();
      changed();
    };
    const afterLatency = (): void => {
      if (state.holding) held.push(finish);
      else finish();
    };
    if (latencyMs <= 0) return afterLatency();
    const timer = setTimeout(() => {
      timers.delete(timer);
      afterLatency();
    }, latencyMs);
    timers.add(timer);
  };

  const startServing = (request: IncomingMessage, response: ServerResponse, wire: Buffer): void => {
    state.active++;
    state.maxActive = Math.max(state.maxActive, state.active);
    serve(request, response, wire);
  };

  const handle = async (request: IncomingMessage, response: ServerResponse): Promise<void> => {
    state.requests++;
    state.arrivals.push({ at: performance.now(), key: String(request.headers['idempotency-key']) });
    state.inFlight++;
    state.maxInFlight = Math.max(state.maxInFlight, state.inFlight);
    let open = true;
    response.on('close', () => {
      if (!open) return;
      open = false;
      state.inFlight--;
      changed();
    });
    request.on('error', () => {});
    changed();

    // refuse: decided on arrival, before the body is read, as a server with a fixed worker pool would.
    const refuse = overload?.kind === 'refuse' && state.active >= overload.capacity;
    // Anything not refused and not subject to a queue takes its slot now, so
    // requests arriving while this body is read see the slot taken.
    const reserve = !refuse && overload?.kind !== 'queue';
    if (reserve) {
      state.active++;
      state.maxActive = Math.max(state.maxActive, state.active);
    }
    const freeSlot = (): void => {
      state.active--;
      queue.shift()?.();
      changed();
    };
    let wire: Buffer;
    try {
      wire = await readBody(request);
    } catch {
      if (reserve) freeSlot();
      return;
    }
    if (maxBodyBytes !== undefined && wire.length > maxBodyBytes) {
      if (reserve) freeSlot();
      answer(response, 413, {}, `body of ${wire.length} bytes is over ${maxBodyBytes}`);
      return;
    }
    if (refuse) {
      answer(response, 429, overload.retryAfter !== undefined ? { 'retry-after': overload.retryAfter } : {}, 'over capacity');
      return;
    }
    if (reserve) {
      serve(request, response, wire);
      return;
    }
    // queue: wait for a slot; latency grows with the queue, nothing is refused.
    // A slot is only free while the queue is empty: every freed slot takes the queue's head.
    if (state.active < overload!.capacity) {
      startServing(request, response, wire);
      return;
    }
    state.queued++;
    changed();
    queue.push(() => {
      state.queued--;
      startServing(request, response, wire);
    });
  };

  const server = createServer((request, response) => void handle(request, response));
  server.on('connection', (socket: Socket) => socket.setNoDelay(true));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  (state as { url: string }).url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return state;
}
