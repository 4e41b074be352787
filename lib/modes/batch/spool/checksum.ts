import { createRequire } from 'node:module';
import { crc32 as zlibCrc32 } from 'node:zlib';

/**
 * The spool's checksum: CRC-32 as zlib, gzip and PNG compute it, chained
 * over pieces (`crc32(b, crc32(a))` is the crc of `a` then `b`). zlib's is
 * the definition; `@node-rs/crc32` computes the same function with the CPU's
 * carry-less multiply (PCLMULQDQ on x86-64) or CRC instructions (ARMv8) where
 * its prebuilt binary exists for the platform, and the spool uses it then.
 *
 * Why not zlib's alone: every byte a spool stores is checksummed once on its
 * way in, and Node 20's `zlib.crc32` has no SIMD path. It ran at ~2.3–3.3 GB/s
 * here against ~13–19 GB/s, and for 1 MiB records that difference was about a
 * quarter of the spool's whole overhead (bench/notes/S2-large-records.md).
 * The two give the same value, so a spool written with one is read with the
 * other; where the binary cannot load, zlib's runs and only speed differs.
 */
export type Crc32 = (data: Uint8Array, initial?: number) => number;

export { zlibCrc32 };

/** Not yet looked for / looked for and absent / loaded. */
let simd: Crc32 | null | undefined;

/**
 * `@node-rs/crc32`'s crc32, or undefined where it has no binary for this
 * platform. Loaded on first use: a process that never opens a spool never
 * loads the native binary (~6 ms here).
 */
export function simdCrc32(): Crc32 | undefined {
  if (simd === undefined) simd = loadSimdCrc32() ?? null;
  return simd ?? undefined;
}

/** The checksum the spool computes and checks: one call per piece (a group, a read window), so the indirection costs nothing measurable. */
export function crc32(data: Uint8Array, initial = 0): number {
  return (simdCrc32() ?? zlibCrc32)(data, initial);
}

/** Which implementation `crc32` runs: for benchmark reports and diagnostics. */
export function crc32Implementation(): 'simd' | 'zlib' {
  return simdCrc32() ? 'simd' : 'zlib';
}

function loadSimdCrc32(): Crc32 | undefined {
  try {
    // A require, not an import: its loader throws on a platform without a binary, and that must not fail this module.
    const binding = createRequire(import.meta.url)('@node-rs/crc32') as { crc32: (input: Uint8Array, initial?: number) => number };
    // One known value checks that the binary loaded is the function it claims to be.
    return binding.crc32(Buffer.from('123456789')) === 0xcbf43926 ? binding.crc32 : undefined;
  } catch {
    return undefined;
  }
}
