// A bounded map from structural codes (src/ir/hash.ts) to values: the plan cache. Lookups hash the code and
// compare it in full with the codes of that hash, so a value is found only for an equal code; the least
// recently used entries go first when the cache is full.
import { hashCode, sameCode } from '../ir/hash.js';

export interface Entry<V> {
  readonly code: readonly number[];
  readonly value: V;
}

export class StructureCache<V> {
  /** Entries by hash; the map's order is the buckets' use order, least recent first. */
  private readonly buckets = new Map<number, Entry<V>[]>();
  private count = 0;

  constructor(readonly capacity: number) {}

  get size(): number {
    return this.count;
  }

  /** The value stored for the first `length` numbers of `code` (hash: hashCode of them), or undefined. */
  get(code: readonly number[], length: number, hash: number): V | undefined {
    return this.entry(code, length, hash)?.value;
  }

  /** `get`, returning the entry (its own copy of the code, which stays valid while it is stored). */
  entry(code: readonly number[], length: number, hash: number): Entry<V> | undefined {
    const bucket = this.buckets.get(hash);
    if (!bucket) return undefined;
    for (const e of bucket) {
      if (e.code.length === length && sameCode(e.code, code, length)) {
        this.buckets.delete(hash);
        this.buckets.set(hash, bucket);
        return e;
      }
    }
    return undefined;
  }

  /** Stores `value` for a copy of the first `length` numbers of `code` (not already present); returns the entry. */
  set(code: readonly number[], length: number, hash: number, value: V): Entry<V> {
    let bucket = this.buckets.get(hash);
    if (bucket) this.buckets.delete(hash);
    else bucket = [];
    const entry = { code: code.slice(0, length), value };
    bucket.push(entry);
    this.buckets.set(hash, bucket);
    this.count++;
    while (this.count > this.capacity) {
      const [oldest, entries] = this.buckets.entries().next().value!;
      entries.shift();
      if (entries.length === 0) this.buckets.delete(oldest);
      this.count--;
    }
    return entry;
  }

  clear(): void {
    this.buckets.clear();
    this.count = 0;
  }
}
