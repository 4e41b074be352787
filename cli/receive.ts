import type { ReceiveArgs } from './args.js';
import { EXIT_FAILED, EXIT_OK, processIo, type CliIo } from './io.js';
import { startReceiveServer } from './receive-server.js';
import { TUS_MISSING } from './receive-tus.js';

/** `bhw receive`: serves until SIGINT or SIGTERM, then closes its connections and exits 0. */
export async function runReceive(args: ReceiveArgs, io: CliIo = processIo): Promise<number> {
  let server;
  try {
    server = await startReceiveServer({
      port: args.port,
      dir: args.dir,
      maxBytes: args.maxBytes,
      maxKeys: args.maxKeys,
      log: (line) => io.stderr.write(`${line}\n`),
    });
  } catch (error) {
    // A port in use or a directory that cannot be created: say which, without a stack.
    io.stderr.write(`bhw receive: cannot start: ${(error as Error).message}\n`);
    return EXIT_FAILED;
  }
  const tus = server.tus ? `tus at ${server.url}/tus` : 'tus unavailable (install @tus/server and @tus/file-store)';
  // They are optional dependencies: an install without them still serves stream and batch.
  if (!server.tus) io.stderr.write(`bhw receive: ${TUS_MISSING}\n`);
  io.stdout.write(`listening on ${server.url} (stream and batch uploads at any path, ${tus}), storing under ${server.dir}\n`);
  let stop: (signal: NodeJS.Signals) => void = () => {};
  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    stop = resolve;
    process.once('SIGINT', stop).once('SIGTERM', stop);
  });
  process.removeListener('SIGINT', stop).removeListener('SIGTERM', stop);
  await server.close();
  io.stderr.write(`bhw receive: ${signal}, closed\n`);
  return EXIT_OK;
}
