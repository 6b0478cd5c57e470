import type { KeyValueStore } from './processor.ts';

/**
 * An in-memory table whose writes are staged until the task's transaction commits (then they become visible as
 * committed state) or aborts (then they vanish). Every write is also handed to `log`, which appends it to the
 * changelog topic inside the same transaction; `restore` replays that changelog on assignment.
 */
export class StagedStore<V> implements KeyValueStore<V> {
  private readonly committed = new Map<string, V>();
  /** null: deleted in this transaction. */
  private readonly staged = new Map<string, V | null>();

  private log: (key: string, value: V | null) => void = () => {};

  /** Where writes are logged (the owning task's changelog output); null is a delete (a tombstone). */
  logTo(log: (key: string, value: V | null) => void): void {
    this.log = log;
  }

  get(key: string): V | undefined {
    return this.staged.has(key) ? (this.staged.get(key) ?? undefined) : this.committed.get(key);
  }

  put(key: string, value: V): void {
    this.staged.set(key, value);
    this.log(key, value);
  }

  delete(key: string): void {
    if (this.get(key) === undefined) return;
    this.staged.set(key, null);
    this.log(key, null);
  }

  *entries(): IterableIterator<[string, V]> {
    for (const [k, v] of this.committed) if (!this.staged.has(k)) yield [k, v];
    for (const [k, v] of this.staged) if (v !== null) yield [k, v];
  }

  get size(): number {
    let n = this.committed.size;
    for (const [k, v] of this.staged) {
      if (v !== null && !this.committed.has(k)) n++;
      if (v === null && this.committed.has(k)) n--;
    }
    return n;
  }

  commit(): void {
    for (const [k, v] of this.staged) {
      if (v === null) this.committed.delete(k);
      else this.committed.set(k, v);
    }
    this.staged.clear();
  }

  rollback(): void {
    this.staged.clear();
  }

  /** Applies one changelog record during restore; null is a tombstone. */
  restore(key: string, value: V | null): void {
    if (value === null) this.committed.delete(key);
    else this.committed.set(key, value);
  }
}
