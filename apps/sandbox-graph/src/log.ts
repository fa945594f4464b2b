/**
 * An append-only list that forgets its oldest entries past `limit`, so a long benchmark cannot
 * grow the sandbox without bound. Trimming happens in chunks to keep `push` amortised O(1).
 */
export class BoundedLog<T> {
  private items: T[] = [];
  /** Entries forgotten so far. */
  evicted = 0;

  constructor(
    private readonly limit: number,
    private readonly onEvict?: (item: T) => void,
  ) {}

  push(item: T): void {
    this.items.push(item);
    if (this.items.length > this.limit + Math.max(1, this.limit >> 3)) {
      const drop = this.items.length - this.limit;
      const removed = this.items.splice(0, drop);
      this.evicted += drop;
      if (this.onEvict) for (const r of removed) this.onEvict(r);
    }
  }

  toArray(): T[] {
    if (this.limit <= 0) return [];
    return this.items.length > this.limit ? this.items.slice(-this.limit) : this.items.slice();
  }

  get size(): number {
    return Math.min(this.items.length, this.limit);
  }

  clear(): void {
    if (this.onEvict) for (const r of this.items) this.onEvict(r);
    this.items = [];
    this.evicted = 0;
  }
}
