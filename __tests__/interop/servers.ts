/**
 * The upstreams every proxy test puts behind its proxy: the repository's
 * recording sink and a real @tus/server, both on 127.0.0.1 port 0.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startSink, type Sink } from '../helpers/sink-server.js';
import { startTusServer, type TusTestServer } from '../helpers/tus-server.js';
import { startServer } from './harness.js';

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

/**
 * Caddy in front of `upstreams`: plain HTTP and HTTPS (HTTP/2) with the
 * given certificate; returns both base URLs.
 */
export async function startCaddy(name: string, upstreams: Upstreams, certs: { cert: string; key: string }): Promise<{ httpBase: string; httpsBase: string }> {
  const caddy = await startServer({
    name,
    config: 'Caddyfile',
    vars: { UPSTREAM: upstreams.sinkAddress, TUS_UPSTREAM: upstreams.tusAddress },
    ports: ['HTTP_PORT', 'HTTPS_PORT'],
    prepare: (c) => {
      writeFileSync(join(c.dir, 'server.pem'), certs.cert);
      writeFileSync(join(c.dir, 'server.key'), certs.key, { mode: 0o600 });
    },
    // Caddy keeps its state under HOME/XDG dirs: point them into the run's directory.
    env: (c) => ({ HOME: c.dir, XDG_CONFIG_HOME: `${c.dir}/config`, XDG_DATA_HOME: `${c.dir}/data` }),
    command: (c) => ['/usr/bin/caddy', 'run', '--adapter', 'caddyfile', '--config', c.configPath],
  });
  return { httpBase: `http://127.0.0.1:${caddy.ports.HTTP_PORT}`, httpsBase: `https://127.0.0.1:${caddy.ports.HTTPS_PORT}` };
}
