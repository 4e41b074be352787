/**
 * A map that holds at most `capacity` entries: setting one more forgets the
 * least recently used (read or set), so memory stays bounded however many
 * keys clients send.
 */
export class RecentMap<K, V> {
  readonly #entries = new Map<K, V>();
  readonly #capacity: number;

  constructor(capacity: number) {
    this.#capacity = capacity;
  }

  get(key: K): V | undefined {
    if (!this.#entries.has(key)) return undefined;
    const value = this.#entries.get(key)!;
    this.set(key, value);
    return value;
  }

  set(key: K, value: V): void {
    // A Map iterates in insertion order: re-inserting makes the key the newest.
    this.#entries.delete(key);
    this.#entries.set(key, value);
    if (this.#entries.size > this.#capacity) this.#entries.delete(this.#entries.keys().next().value!);
  }

  delete(key: K): void {
    this.#entries.delete(key);
  }
}
