import type { KeyValueStore } from './processor.ts';

/**
 * An in-memory table whose writes are staged until the task's transaction commits (then they become visible as
 * committed state) or aborts (then they vanish). Every write is also handed to `log`, which appends it to the
 * changelog topic inside the same transaction; `restore` replays that changelog on assignment.
 */
export class StagedStore<V> implements KeyValueStore<V> {
  private readonly committed = new Map<string, V>();
  private readonly staged = new Map<string, V>();

  private log: (key: string, value: V) => void = () => {};

  /** Where writes are logged (the owning task's changelog output). */
  logTo(log: (key: string, value: V) => void): void {
    this.log = log;
  }

  get(key: string): V | undefined {
    return this.staged.has(key) ? this.staged.get(key) : this.committed.get(key);
  }

  put(key: string, value: V): void {
    this.staged.set(key, value);
    this.log(key, value);
  }

  get size(): number {
    let n = this.committed.size;
    for (const k of this.staged.keys()) if (!this.committed.has(k)) n++;
    return n;
  }

  commit(): void {
    for (const [k, v] of this.staged) this.committed.set(k, v);
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
