/**
 * A real TCP proxy (node:net) on 127.0.0.1, port 0, in front of any server,
 * that injects faults into the connections it carries. Works for every mode
 * because it knows nothing of HTTP: it counts bytes.
 *
 *   const proxy = await startFaultProxy(server.url, { fault: { kind: 'cut', afterBytes: 1 << 20 } });
 *   new BufferedHttpWritable(proxy.url(server.url), ...)
 *   ...
 *   await proxy.close();
 *
 * Connections are half-closed like a real proxy's: when one side ends, the
 * proxy ends the other after forwarding what came before, and the other
 * direction stays open (an early answer reaches the client as an answer).
 *
 * Faults (`Fault`), applied to one direction of a connection (`'up'`, client
 * to server, by default — the upload's bytes):
 * - `pass`: forward everything (the default).
 * - `cut`: forward `afterBytes` bytes, then close both sides (FIN): a
 *   dropped connection.
 * - `reset`: forward `afterBytes` bytes, then reset both sides (RST via
 *   `socket.resetAndDestroy()`): the client sees ECONNRESET.
 * - `stall`: forward `afterBytes` bytes, then drop everything more in that
 *   direction while keeping the connection open: a hung peer, ended only by
 *   a timeout or by abort.
 * - `trickle`: forward at most `bytesPerSecond` (in slices every 100 ms ÷ …),
 *   a slow link.
 *
 * The fault is chosen per connection when it is accepted: `fault` is either
 * one `Fault` for all, or a function of the connection's index (0-based) —
 * `randomCuts({ seed, min, max })` gives a seeded "cut after every few MiB".
 * `setFault()` changes it for connections accepted later; `dropConnections()`
 * closes the open ones (to force a client onto a new, faulty, connection).
 *
 * A schedule works across connections instead: `cutAt([n1, n2, …], kind)`
 * cuts (or resets) whichever connection is carrying client → server bytes
 * when the proxy's total of them reaches each `n` — "the 3.5th MiB of the
 * upload", whatever connection reuse the client does.
 *
 * `flipOnce(needle)` corrupts instead of cutting: the next time the bytes
 * `needle` pass client → server, on whichever connection, the last of them
 * is inverted (XOR 0xff) and everything is forwarded as usual — one byte of
 * one request changed on the way, as a bad NIC or RAM stick would. Put the
 * needle in a body (a record no other one contains), not in a header.
 *
 * Counters: `connections` (accepted so far), `open` (now), `bytesUp`,
 * `bytesDown` (forwarded), `faults` (faults triggered), `flips` (bytes flipped). `idle()` resolves when
 * no connection is open. `close()` destroys every socket and timer.
 */
import { once } from 'node:events';
import { createServer, createConnection, type Server, type Socket, type AddressInfo } from 'node:net';

export type Direction = 'up' | 'down';

export type Fault =
  | { kind: 'pass' }
  | { kind: 'cut' | 'reset' | 'stall'; afterBytes: number; direction?: Direction }
  | { kind: 'trickle'; bytesPerSecond: number; direction?: Direction };

type FaultAction = 'cut' | 'reset' | 'stall';

export type FaultPlan = Fault | ((connection: number) => Fault);

export interface FaultProxy {
  /** `http://127.0.0.1:PORT`. */
  readonly origin: string;
  readonly port: number;
  /** `url` with its origin replaced by the proxy's (path and query kept). */
  url(url: string): string;
  /** Connections accepted so far. */
  readonly connections: number;
  /** Connections open now. */
  readonly open: number;
  /** Bytes forwarded client → server and server → client. */
  readonly bytesUp: number;
  readonly bytesDown: number;
  /** Faults triggered (cuts, resets, stalls) so far. */
  readonly faults: number;
  setFault(plan: FaultPlan): void;
  /** Cuts (or resets) the connection carrying upstream bytes when `bytesUp` reaches each position. */
  cutAt(positions: number[], kind?: 'cut' | 'reset'): void;
  /** Inverts the last byte of the next occurrence of `needle` going client → server, once. */
  flipOnce(needle: string | Buffer): void;
  /** Bytes flipped so far. */
  readonly flips: number;
  /** Destroys every open connection (both sides). */
  dropConnections(): void;
  /** Resolves once no connection is open. */
  idle(): Promise<void>;
  close(): Promise<void>;
}

/** A small seeded PRNG (mulberry32): the same seed gives the same faults on every run. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A plan that cuts (or resets) each connection after a seeded random count of bytes in [min, max]. */
export function randomCuts({ seed, min, max, kind = 'cut' }: { seed: number; min: number; max: number; kind?: 'cut' | 'reset' }): FaultPlan {
  const random = seededRandom(seed);
  return () => ({ kind, afterBytes: min + Math.floor(random() * (max - min + 1)) });
}

/** How often a trickle releases its slice. */
const TRICKLE_TICK_MS = 50;

export async function startFaultProxy(
  target: string | { host?: string; port: number },
  { fault = { kind: 'pass' } }: { fault?: FaultPlan } = {},
): Promise<FaultProxy> {
  const { host, port } =
    typeof target === 'string'
      ? { host: new URL(target).hostname, port: Number(new URL(target).port) }
      : { host: target.host ?? '127.0.0.1', port: target.port };
  let plan = fault;
  let connections = 0;
  let bytesUp = 0;
  let bytesDown = 0;
  let faults = 0;
  const pairs = new Set<{ client: Socket; upstream: Socket }>();
  const timers = new Set<NodeJS.Timeout>();
  let idleWaiters: Array<() => void> = [];
  let schedule: number[] = [];
  let scheduleKind: 'cut' | 'reset' = 'cut';
  let flipNeedle: Buffer | undefined;
  let flips = 0;

  const server: Server = createServer({ allowHalfOpen: true }, (client) => {
    const index = connections++;
    const chosen = typeof plan === 'function' ? plan(index) : plan;
    const upstream = createConnection({ host, port, allowHalfOpen: true });
    const pair = { client, upstream };
    pairs.add(pair);
    let closed = false;
    const destroyBoth = (): void => {
      if (closed) return;
      closed = true;
      client.destroy();
      upstream.destroy();
      pairs.delete(pair);
      if (pairs.size === 0) {
        const waiters = idleWaiters;
        idleWaiters = [];
        for (const wake of waiters) wake();
      }
    };
    // Half-close, as real proxies do: a side that ends (FIN) ends the other
    // once what it sent has been forwarded (see forward/trickle), and the
    // other direction keeps flowing. A server that answers early and closes
    // its side is thus seen by the client as an answer, not as a reset. An
    // error or a full close of either side ends both.
    for (const socket of [client, upstream]) {
      socket.on('error', destroyBoth);
      socket.on('close', destroyBoth);
    }
    const faultUp = chosen.kind !== 'pass' && (chosen.direction ?? 'up') === 'up' ? chosen : { kind: 'pass' as const };
    const faultDown = chosen.kind !== 'pass' && chosen.direction === 'down' ? chosen : { kind: 'pass' as const };
    forward(client, upstream, faultUp, (n) => (bytesUp += n), true);
    forward(upstream, client, faultDown, (n) => (bytesDown += n));

    function forward(from: Socket, to: Socket, rule: Fault, count: (n: number) => void, scheduled = false): void {
      if (rule.kind === 'trickle') {
        trickle(from, to, rule.bytesPerSecond, count);
        return;
      }
      const limit = rule.kind === 'pass' ? Number.POSITIVE_INFINITY : rule.afterBytes;
      let action: FaultAction | undefined;
      let forwarded = 0;
      // The end of what went before, so a needle split between two reads is found.
      let tail = Buffer.alloc(0);
      from.on('data', (chunk: Buffer) => {
        if (action || closed) return; // after a stall: dropped
        let part = chunk;
        if (scheduled && flipNeedle) {
          const needle = flipNeedle;
          const seen = Buffer.concat([tail, chunk]);
          const at = seen.indexOf(needle);
          if (at >= 0) {
            part = Buffer.from(chunk);
            part[at + needle.length - 1 - tail.length]! ^= 0xff;
            flipNeedle = undefined;
            flips++;
          }
          tail = seen.subarray(Math.max(0, seen.length - needle.length + 1));
        }
        if (rule.kind !== 'pass' && forwarded + chunk.length >= limit) {
          part = chunk.subarray(0, limit - forwarded);
          action = rule.kind;
        }
        if (scheduled && schedule.length > 0 && bytesUp + part.length >= schedule[0]!) {
          part = part.subarray(0, schedule.shift()! - bytesUp);
          action = scheduleKind;
        }
        forwarded += part.length;
        count(part.length);
        if (part.length > 0 && !to.write(part)) {
          from.pause();
          to.once('drain', () => from.resume());
        }
        if (action) trigger(action);
      });
      from.on('end', () => to.end());
    }

    function trigger(action: FaultAction): void {
      faults++;
      if (action === 'cut') {
        // Let the bytes already forwarded reach the server before the FIN.
        upstream.end();
        client.end();
        client.destroySoon();
        upstream.destroySoon();
      } else if (action === 'reset') {
        client.resetAndDestroy();
        upstream.resetAndDestroy();
      }
      // stall: later bytes are read and dropped (see the data handler). Reading
      // on, rather than pausing, is what lets the proxy notice the peer close.
    }

    function trickle(from: Socket, to: Socket, bytesPerSecond: number, count: (n: number) => void): void {
      const queue: Buffer[] = [];
      const perTick = Math.max(1, Math.floor((bytesPerSecond * TRICKLE_TICK_MS) / 1000));
      let ended = false;
      from.on('end', () => (ended = true));
      const timer = setInterval(() => {
        let budget = perTick;
        while (budget > 0 && queue.length > 0 && !closed) {
          const head = queue[0]!;
          const part = head.subarray(0, budget);
          to.write(part);
          count(part.length);
          budget -= part.length;
          if (part.length === head.length) queue.shift();
          else queue[0] = head.subarray(part.length);
        }
        if (queue.length > 0) return;
        if (!ended) {
          from.resume();
          return;
        }
        to.end();
        clearInterval(timer);
        timers.delete(timer);
      }, TRICKLE_TICK_MS);
      timers.add(timer);
      from.on('close', () => {
        clearInterval(timer);
        timers.delete(timer);
      });
      from.on('data', (chunk: Buffer) => {
        queue.push(chunk);
        from.pause(); // take no more than the next tick can hand on
      });
    }
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const proxyPort = (server.address() as AddressInfo).port;
  const origin = `http://127.0.0.1:${proxyPort}`;

  return {
    origin,
    port: proxyPort,
    url(url: string) {
      const parsed = new URL(url);
      return `${origin}${parsed.pathname}${parsed.search}`;
    },
    get connections() {
      return connections;
    },
    get open() {
      return pairs.size;
    },
    get bytesUp() {
      return bytesUp;
    },
    get bytesDown() {
      return bytesDown;
    },
    get faults() {
      return faults;
    },
    get flips() {
      return flips;
    },
    flipOnce(needle: string | Buffer) {
      flipNeedle = Buffer.from(needle);
    },
    setFault(next: FaultPlan) {
      plan = next;
    },
    cutAt(positions: number[], kind: 'cut' | 'reset' = 'cut') {
      schedule = [...positions].sort((a, b) => a - b);
      scheduleKind = kind;
    },
    dropConnections() {
      for (const { client, upstream } of [...pairs]) {
        client.destroy();
        upstream.destroy();
      }
    },
    idle() {
      if (pairs.size === 0) return Promise.resolve();
      return new Promise((resolve) => idleWaiters.push(resolve));
    },
    async close() {
      for (const timer of timers) clearInterval(timer);
      timers.clear();
      for (const { client, upstream } of [...pairs]) {
        client.destroy();
        upstream.destroy();
      }
      server.close();
      await once(server, 'close');
    },
  };
}
