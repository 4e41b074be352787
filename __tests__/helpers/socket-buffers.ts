import { readFile } from 'node:fs/promises';

/** Where /proc is missing (not Linux): a generous guess. */
const FALLBACK = 64 * 1024 * 1024;

/** Room for what the receiving process reads before it stops (its socket and parser buffers). */
const MARGIN = 1024 * 1024;

/**
 * More bytes than one loopback TCP connection can hold while its receiver
 * does not read: the sender's send buffer and the receiver's receive buffer
 * at their largest (Linux: the maxima of `net.ipv4.tcp_wmem` and
 * `tcp_rmem`), plus a margin. A single write of this size to a server that
 * stops reading can never complete, whatever the kernel's autotuning does.
 */
export async function moreThanSocketBuffersHold(): Promise<number> {
  try {
    const [send, receive] = await Promise.all([largest('/proc/sys/net/ipv4/tcp_wmem'), largest('/proc/sys/net/ipv4/tcp_rmem')]);
    return send + receive + MARGIN;
  } catch {
    return FALLBACK;
  }
}

/** The last of the three figures (min, default, max). */
async function largest(path: string): Promise<number> {
  const figures = (await readFile(path, 'utf8')).trim().split(/\s+/).map(Number);
  const max = figures[2];
  if (max === undefined || !Number.isFinite(max)) throw new Error(`${path}: unexpected contents`);
  return max;
}
