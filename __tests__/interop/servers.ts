/**
 * The upstreams every proxy test puts behind its proxy: the repository's
 * recording sink and a real @tus/server, both on 127.0.0.1 port 0.
 */
import { startSink, type Sink } from '../helpers/sink-server.js';
import { startTusServer, type TusTestServer } from '../helpers/tus-server.js';

export interface Upstreams {
  sink: Sink;
  tus: TusTestServer;
  /** `127.0.0.1:PORT` of each, as proxy configs want them. */
  sinkAddress: string;
  tusAddress: string;
  close(): Promise<void>;
}

export async function startUpstreams({ relativeLocation = false }: { relativeLocation?: boolean } = {}): Promise<Upstreams> {
  const sink = await startSink();
  const tus = await startTusServer({ relativeLocation });
  return {
    sink,
    tus,
    sinkAddress: new URL(sink.url).host,
    tusAddress: new URL(tus.url).host,
    close: async () => {
      await sink.close();
      await tus.close();
    },
  };
}
