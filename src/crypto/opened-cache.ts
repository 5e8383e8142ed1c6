/** A ciphertext of one record's value or field, and the text it opened to. */
interface Opened {
  sealed: string;
  text: string;
}

/** The entries of one space and field, by record key. */
type ByKey = Map<string, Opened>;

/**
 * Recently opened ciphertexts by record (space, field, key), at most `capacity`, the oldest
 * evicted first. A hit needs the record's current ciphertext to be exactly the one opened:
 * one string comparison, where a map keyed by the ciphertext would hash all of its few
 * hundred characters on every read (about 1 µs, a fifth of a plain read). The eviction order
 * is a ring of its own: evicting through `map.keys().next()` walks over every entry deleted
 * before it (V8 keeps them until the table is rebuilt), which at 10,000 entries cost 2.5 µs
 * per read, more than the cipher the cache saves.
 */
export class OpenedCache {
  readonly #spaces = new Map<string, Map<string, ByKey>>();
  readonly #ring: Array<{ byKey: ByKey; key: string; opened: Opened }> = [];
  readonly #capacity: number;
  #oldest = 0;
  #size = 0;

  constructor(capacity: number) {
    this.#capacity = capacity;
  }

  /** The text `sealed` opened to for this record, if it is the ciphertext last opened for it. */
  get(space: string, field: string, key: string, sealed: string): string | undefined {
    const opened = this.#spaces.get(space)?.get(field)?.get(key);
    return opened !== undefined && opened.sealed === sealed ? opened.text : undefined;
  }

  add(space: string, field: string, key: string, sealed: string, text: string): void {
    if (this.#capacity === 0) return;
    let fields = this.#spaces.get(space);
    if (fields === undefined) this.#spaces.set(space, (fields = new Map()));
    let byKey = fields.get(field);
    if (byKey === undefined) fields.set(field, (byKey = new Map()));
    const opened: Opened = { sealed, text };
    if (!byKey.has(key)) this.#size++;
    byKey.set(key, opened);
    const slot = { byKey, key, opened };
    if (this.#ring.length < this.#capacity) {
      this.#ring.push(slot);
      return;
    }
    const evicted = this.#ring[this.#oldest]!;
    // The record may have been opened again since (a newer slot holds it): then it stays.
    if (evicted.byKey.get(evicted.key) === evicted.opened) {
      evicted.byKey.delete(evicted.key);
      this.#size--;
    }
    this.#ring[this.#oldest] = slot;
    this.#oldest = (this.#oldest + 1) % this.#capacity;
  }

  /** Records held. */
  get size(): number {
    return this.#size;
  }
}
