import { once } from 'node:events';
import { Agent } from 'node:http';
import type { Socket } from 'node:net';
import got, { type Got } from 'got';

/**
 * A got instance whose agent remembers every socket it opened, so a test can
 * prove that an aborted or failed upload leaves no connection behind.
 */
export interface TrackingGot {
  got: Got;
  sockets: Socket[];
  /** Resolves once every socket opened so far has closed. */
  allClosed(): Promise<void>;
}

export function trackingGot(options: { keepAlive?: boolean } = {}): TrackingGot {
  const sockets: Socket[] = [];
  const agent = new Agent({ keepAlive: options.keepAlive ?? false });
  const createConnection = agent.createConnection.bind(agent);
  agent.createConnection = ((...args: Parameters<typeof createConnection>) => {
    const socket = createConnection(...args) as Socket;
    sockets.push(socket);
    return socket;
  }) as typeof agent.createConnection;
  return {
    got: got.extend({ agent: { http: agent } }),
    sockets,
    allClosed: async () => {
      await Promise.all(sockets.map((socket) => (socket.closed ? undefined : once(socket, 'close'))));
      agent.destroy();
    },
  };
}
