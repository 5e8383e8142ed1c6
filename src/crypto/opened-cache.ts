/** A value a ciphertext opened to, and the record (space, key, field) it opened for. */
export interface Opened {
  space: string;
  key: string;
  field: string;
  text: string;
}

/**
 * Recently opened ciphertexts, at most `capacity`, the oldest evicted first. The eviction
 * order is kept in a ring of its own: evicting through `map.keys().next()` walks over every
 * entry deleted before it (V8 keeps them until the table is rebuilt), which at 10,000 entries
 * cost 2.5 µs per read, more than the cipher the cache saves.
 */
export class OpenedCache {
  readonly #entries = new Map<string, Opened>();
  readonly #ring: string[] = [];
  readonly #capacity: number;
  #oldest = 0;

  constructor(capacity: number) {
    this.#capacity = capacity;
  }

  get(sealed: string): Opened | undefined {
    return this.#entries.get(sealed);
  }

  add(sealed: string, opened: Opened): void {
    if (this.#capacity === 0) return;
    if (!this.#entries.has(sealed)) {
      if (this.#ring.length < this.#capacity) this.#ring.push(sealed);
      else {
        this.#entries.delete(this.#ring[this.#oldest]!);
        this.#ring[this.#oldest] = sealed;
        this.#oldest = (this.#oldest + 1) % this.#capacity;
      }
    }
    this.#entries.set(sealed, opened);
  }

  get size(): number {
    return this.#entries.size;
  }
}
