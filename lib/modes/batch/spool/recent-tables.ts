import { ENTRY_BYTES, UNIT_HEADER, type LoadedGroup } from './frame.js';

/** Table entries kept at most (4 bytes each): 1 MiB. */
const KEEP_ENTRIES = 1 << 18;
/** Groups kept at most, whatever their size. */
const KEEP_GROUPS = 1 << 12;

/**
 * The tables of the groups this process appended last, kept in memory, so
 * that reading such a group back needs no reads of its header, count and
 * table: three thread-pool round trips a group, which for 1 MiB records (a
 * group per record) outnumber the batches' own reads three to one. Bounded by `KEEP_ENTRIES` and
 * `KEEP_GROUPS`, oldest first out; everything here is also on disk, a miss
 * only costs the reads. Unlike `RecentGroups` it keeps no record bytes, so it
 * reaches much further behind the writer.
 */
export class RecentTables {
  /** By start position; a Map iterates in insertion order, which is stream order. */
  readonly #tables = new Map<number, LoadedGroup>();
  #keptEntries = 0;

  /** Keeps the table of the group written at `start` (`byteLength` bytes, unit header included); `entries` is copied. */
  keep(start: number, byteLength: number, entries: Uint32Array, count: number): void {
    const end = start + byteLength;
    const tableStart = end - ENTRY_BYTES * (count + 1);
    if (tableStart < start + UNIT_HEADER) throw new RangeError(`group at ${start}: a table of ${count} entries does not fit in ${byteLength} bytes`);
    this.#tables.set(start, { start, end, tableStart, count, entries: entries.slice(0, count) });
    this.#keptEntries += count;
    while (this.#keptEntries > KEEP_ENTRIES || this.#tables.size > KEEP_GROUPS) this.#forgetOldest();
  }

  /** The table of the group at `start`, when kept. */
  get(start: number): LoadedGroup | undefined {
    return this.#tables.get(start);
  }

  /** Forgets the groups that end at or before `position` (read into batches). */
  dropBefore(position: number): void {
    for (const group of this.#tables.values()) {
      if (group.end > position) return;
      this.#forgetOldest();
    }
  }

  #forgetOldest(): void {
    const [start, group] = this.#tables.entries().next().value as [number, LoadedGroup];
    this.#tables.delete(start);
    this.#keptEntries -= group.count;
  }
}
