import { afterEach, describe, expect, test } from '@jest/globals';
import fc from 'fast-check';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { crc32 as nodeZlibCrc32 } from 'node:zlib';
import { crc32, crc32Implementation, simdCrc32, zlibCrc32 } from '../../lib/modes/batch/spool/checksum.js';
import { openSpool, removeSpoolDirs, spoolDir } from '../helpers/spool.js';

afterEach(removeSpoolDirs);

/** Bytes cut into pieces at the given points (sorted, within the length). */
function piecesOf(bytes: Uint8Array, cuts: number[]): Uint8Array[] {
  const points = [...new Set(cuts.map((cut) => cut % (bytes.length + 1)))].sort((a, b) => a - b);
  const pieces: Uint8Array[] = [];
  let from = 0;
  for (const point of [...points, bytes.length]) {
    pieces.push(bytes.subarray(from, point));
    from = point;
  }
  return pieces;
}

describe('the spool checksum', () => {
  test('on linux x64 (CI) the SIMD crc32 is installed and used', () => {
    if (process.platform !== 'linux' || process.arch !== 'x64') return;
    expect(simdCrc32()).toBeDefined();
    expect(crc32Implementation()).toBe('simd');
  });

  test('both implementations give zlib.crc32 of the whole, however the bytes are cut into chained pieces', () => {
    const simd = simdCrc32();
    const implementations = [zlibCrc32, crc32, ...(simd ? [simd] : [])];
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 5000 }), fc.array(fc.nat(), { maxLength: 6 }), (bytes, cuts) => {
        const whole = nodeZlibCrc32(bytes);
        for (const implementation of implementations) {
          const chained = piecesOf(bytes, cuts).reduce((crc, piece) => implementation(piece, crc), 0);
          expect(chained).toBe(whole);
        }
      }),
    );
  });

  test('values with the high bit set come back unsigned, as the unit header stores them', () => {
    // crc32("123456789") = 0xcbf43926, the standard check value.
    expect(crc32(Buffer.from('123456789'))).toBe(0xcbf43926);
    expect(crc32(Buffer.alloc(0))).toBe(0);
  });

  test('a group written by the spool carries zlib.crc32 of its payload: the format does not depend on the implementation', async () => {
    const dir = await spoolDir();
    const spool = await openSpool({ dir });
    // A large record goes to writev beside the staging buffer: the crc is chained over both.
    await spool.append([Buffer.alloc(300_000, 'a'), 'text record', Buffer.alloc(70_000, 'b')]);
    const [segment] = (await readdir(dir)).filter((name) => name.startsWith('seg-'));
    const file = await readFile(join(dir, segment!));
    const payloadLength = file.readUInt32LE(0) & 0x3fff_ffff;
    expect(file.length).toBe(12 + payloadLength);
    expect(file.readUInt32LE(8)).toBe(nodeZlibCrc32(file.subarray(12)));
  });
});
