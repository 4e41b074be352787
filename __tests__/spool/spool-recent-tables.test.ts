import { describe, expect, test } from '@jest/globals';
import { CUT_ENTRY, ENTRY_BYTES, UNIT_HEADER } from '../../lib/modes/batch/spool/frame.js';
import { RecentTables } from '../../lib/modes/batch/spool/recent-tables.js';

/** Bytes of a group holding records of `lengths` (CUT_ENTRY for a marker): header, records, table, count. */
function groupBytes(lengths: number[]): number {
  const records = lengths.reduce((sum, length) => sum + (length === CUT_ENTRY ? 0 : length), 0);
  return UNIT_HEADER + records + ENTRY_BYTES * (lengths.length + 1);
}

function keep(tables: RecentTables, start: number, lengths: number[]): number {
  const entries = new Uint32Array(16);
  entries.set(lengths);
  tables.keep(start, groupBytes(lengths), entries, lengths.length);
  return start + groupBytes(lengths);
}

describe('the tables of the groups last written, kept for the reader', () => {
  test('a kept table says where the group ends, where its table starts, and its entries (a copy)', () => {
    const tables = new RecentTables();
    const entries = new Uint32Array([100, CUT_ENTRY, 7, 0]);
    tables.keep(4096, groupBytes([100, CUT_ENTRY, 7]), entries, 3);
    entries[0] = 1;
    const group = tables.get(4096)!;
    expect(group.start).toBe(4096);
    expect(group.end).toBe(4096 + UNIT_HEADER + 107 + 16);
    expect(group.tableStart).toBe(4096 + UNIT_HEADER + 107);
    expect(group.count).toBe(3);
    expect([...group.entries]).toEqual([100, CUT_ENTRY, 7]);
    expect(tables.get(4097)).toBeUndefined();
  });

  test('groups read into batches are forgotten, the ones after them are kept', () => {
    const tables = new RecentTables();
    const second = keep(tables, 0, [10]);
    const third = keep(tables, second, [20, 30]);
    keep(tables, third, [40]);
    tables.dropBefore(third - 1);
    expect(tables.get(0)).toBeUndefined();
    expect(tables.get(second)).toBeDefined();
    tables.dropBefore(third);
    expect(tables.get(second)).toBeUndefined();
    expect(tables.get(third)).toBeDefined();
  });

  test('bounded by groups: the oldest go first', () => {
    const tables = new RecentTables();
    const starts: number[] = [];
    let start = 0;
    for (let group = 0; group < 5000; group++) {
      starts.push(start);
      start = keep(tables, start, [1]);
    }
    expect(tables.get(starts[0]!)).toBeUndefined();
    expect(tables.get(starts[5000 - 4096 - 1]!)).toBeUndefined();
    expect(tables.get(starts[5000 - 4096]!)).toBeDefined();
    expect(tables.get(starts[4999]!)).toBeDefined();
  });

  test('bounded by entries: a group of many records pushes the oldest out', () => {
    const tables = new RecentTables();
    const count = 1 << 16;
    const entries = new Uint32Array(count).fill(1);
    const bytes = UNIT_HEADER + count + ENTRY_BYTES * (count + 1);
    for (let group = 0; group < 5; group++) tables.keep(group * bytes, bytes, entries, count);
    // 2^18 entries at most: four groups of 2^16.
    expect(tables.get(0)).toBeUndefined();
    expect(tables.get(bytes)).toBeDefined();
    expect(tables.get(4 * bytes)!.entries).toHaveLength(count);
  });

  test('a table that cannot fit in the group is refused', () => {
    expect(() => new RecentTables().keep(0, UNIT_HEADER + 8, new Uint32Array(4), 4)).toThrow('group at 0: a table of 4 entries does not fit in 20 bytes');
  });
});
