/**
 * The benchmark sink: a separate process that reads and discards.
 *
 * It serves HTTP/1.1 (Content-Length and chunked bodies, keep-alive) and raw
 * TCP on two ports of 127.0.0.1, and prints `{"http":port,"tcp":port}` once
 * listening. The HTTP framing is parsed by a small state machine rather than
 * node:http so the sink costs the same per byte for every client and is never
 * what a small-chunk client waits for. Each answer carries the body length it
 * counted (`{"bytes":N}`), so every client checks that the sink got it all.
 *
 *   node dist/bench/infra/sink.js [--latency MS] [--rate BYTES_PER_SECOND]
 *
 * `--latency` delays each HTTP answer (a server that takes time to store a
 * batch); `--rate` caps how fast bytes are read, over all connections (a slow
 * server: the kernel buffers fill and the client feels backpressure).
 */
import net from 'node:net';

const enum State {
  Head,
  Sized,
  ChunkSize,
  ChunkData,
  ChunkDataEnd,
  Trailer,
}

const CR = 13;
const LF = 10;

interface Options {
  latency: number;
  rate: number;
}

function parseArgs(argv: string[]): Options {
  const options: Options = { latency: 0, rate: 0 };
  for (let i = 0; i < argv.length; i += 2) {
    const value = Number(argv[i + 1]);
    if (argv[i] === '--latency') options.latency = value;
    else if (argv[i] === '--rate') options.rate = value;
    else throw new TypeError(`sink: unknown argument ${argv[i]}`);
  }
  return options;
}

/** Reads bytes no faster than `rate` per second over all sockets, by pausing the one that got ahead. */
class RateLimit {
  readonly #rate: number;
  #start = 0;
  #received = 0;

  constructor(rate: number) {
    this.#rate = rate;
  }

  take(socket: net.Socket, bytes: number): void {
    if (this.#rate <= 0) return;
    const now = performance.now();
    if (this.#start === 0) this.#start = now;
    this.#received += bytes;
    const due = this.#start + (this.#received / this.#rate) * 1000;
    if (due > now + 2) {
      socket.pause();
      setTimeout(() => socket.resume(), due - now);
    }
  }
}

/** One HTTP connection: counts body bytes through the framing, answers each request. */
class HttpConnection {
  readonly #socket: net.Socket;
  readonly #latency: number;
  #state = State.Head;
  #head = '';
  #matched = 0;
  #remaining = 0;
  #line = '';
  #bodyBytes = 0;
  #close = false;

  constructor(socket: net.Socket, latency: number) {
    this.#socket = socket;
    this.#latency = latency;
  }

  feed(data: Buffer): void {
    let i = 0;
    const n = data.length;
    while (i < n) {
      switch (this.#state) {
        case State.Head: {
          // Scan for the blank line that ends the head, which may straddle two reads.
          const start = i;
          let matched = this.#matched;
          while (i < n && matched < 4) {
            const byte = data[i++]!;
            if (byte === (matched % 2 === 0 ? CR : LF)) matched++;
            else matched = byte === CR ? 1 : 0;
          }
          this.#head += data.toString('latin1', start, i);
          this.#matched = matched;
          if (matched === 4) {
            this.#matched = 0;
            this.#startBody();
          }
          break;
        }
        case State.Sized: {
          const take = Math.min(this.#remaining, n - i);
          this.#bodyBytes += take;
          this.#remaining -= take;
          i += take;
          if (this.#remaining === 0) this.#answer();
          break;
        }
        case State.ChunkSize: {
          const byte = data[i++]!;
          if (byte === LF) {
            const size = parseInt(this.#line, 16);
            this.#line = '';
            if (size === 0) this.#state = State.Trailer;
            else {
              this.#remaining = size;
              this.#state = State.ChunkData;
            }
          } else if (byte !== CR) {
            this.#line += String.fromCharCode(byte);
          }
          break;
        }
        case State.ChunkData: {
          const take = Math.min(this.#remaining, n - i);
          this.#bodyBytes += take;
          this.#remaining -= take;
          i += take;
          if (this.#remaining === 0) this.#state = State.ChunkDataEnd;
          break;
        }
        case State.ChunkDataEnd: {
          if (data[i++] === LF) this.#state = State.ChunkSize;
          break;
        }
        case State.Trailer: {
          const byte = data[i++]!;
          if (byte === LF) {
            if (this.#line === '') this.#answer();
            this.#line = '';
          } else if (byte !== CR) {
            this.#line += String.fromCharCode(byte);
          }
          break;
        }
      }
    }
  }

  #startBody(): void {
    const head = this.#head.toLowerCase();
    this.#head = '';
    this.#bodyBytes = 0;
    this.#close = /\r\nconnection:\s*close/.test(head);
    if (/\r\nexpect:\s*100-continue/.test(head)) this.#socket.write('HTTP/1.1 100 Continue\r\n\r\n');
    if (/\r\ntransfer-encoding:[^\r]*chunked/.test(head)) {
      this.#state = State.ChunkSize;
      return;
    }
    const length = /\r\ncontent-length:\s*(\d+)/.exec(head);
    this.#remaining = length ? Number(length[1]) : 0;
    this.#state = State.Sized;
    if (this.#remaining === 0) this.#answer();
  }

  #answer(): void {
    this.#state = State.Head;
    const body = `{"bytes":${this.#bodyBytes}}`;
    const close = this.#close;
    const text =
      `HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\n` +
      `connection: ${close ? 'close' : 'keep-alive'}\r\n\r\n${body}`;
    const send = (): void => {
      if (this.#socket.destroyed) return;
      if (close) this.#socket.end(text);
      else this.#socket.write(text);
    };
    if (this.#latency > 0) setTimeout(send, this.#latency);
    else send();
  }
}

const READ_BUFFER_SIZE = 256 * 1024;

/**
 * Reads a socket into one reused buffer. Node gives every read a freshly
 * allocated 64 KiB Buffer; on this kind of VM that costs ~100 µs a read and
 * caps a discarding sink at ~600 MB/s, below what the clients can send, so
 * the sink would be what every peer waits for. `net.connect` has the `onread`
 * option for exactly this; accepted sockets do not, so the same two fields
 * are set here (Node 20–24). Without them, the plain `'data'` path is used.
 */
function readInto(socket: net.Socket, onData: (data: Buffer) => void): void {
  const symbols = Object.getOwnPropertySymbols(socket);
  const kBuffer = symbols.find((symbol) => symbol.description === 'kBuffer');
  const kBufferCb = symbols.find((symbol) => symbol.description === 'kBufferCb');
  const handle = (socket as unknown as { _handle?: { useUserBuffer?: (buffer: Buffer) => void } })._handle;
  if (kBuffer && kBufferCb && typeof handle?.useUserBuffer === 'function') {
    const buffer = Buffer.allocUnsafe(READ_BUFFER_SIZE);
    handle.useUserBuffer(buffer);
    const fields = socket as unknown as Record<symbol, unknown>;
    fields[kBuffer] = buffer;
    fields[kBufferCb] = (length: number): void => onData(buffer.subarray(0, length));
    socket.resume(); // emits 'end' at EOF
    return;
  }
  socket.on('data', onData);
}

function main(): void {
  const options = parseArgs(process.argv.slice(2));
  const limit = new RateLimit(options.rate);

  const http = net.createServer({ noDelay: true }, (socket) => {
    const connection = new HttpConnection(socket, options.latency);
    readInto(socket, (data) => {
      limit.take(socket, data.length);
      connection.feed(data);
    });
    socket.on('error', () => socket.destroy());
  });

  // Raw TCP: count until the client half-closes, then answer with the count.
  const tcp = net.createServer({ allowHalfOpen: true, noDelay: true }, (socket) => {
    let bytes = 0;
    readInto(socket, (data) => {
      limit.take(socket, data.length);
      bytes += data.length;
    });
    socket.on('end', () => socket.end(`{"bytes":${bytes}}`));
    socket.on('error', () => socket.destroy());
  });

  let listening = 0;
  const ready = (): void => {
    if (++listening < 2) return;
    const port = (server: net.Server): number => (server.address() as net.AddressInfo).port;
    process.stdout.write(`${JSON.stringify({ http: port(http), tcp: port(tcp) })}\n`);
  };
  http.listen(0, '127.0.0.1', ready);
  tcp.listen(0, '127.0.0.1', ready);

  const stop = (): void => process.exit(0);
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  // The harness owns this process: if it goes away, so does the sink.
  process.stdin.on('end', stop);
  process.stdin.on('error', stop);
  process.stdin.resume();
}

main();
