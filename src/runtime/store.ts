import type { KeyValueStore } from './processor.ts';
import { BytesTable } from './bytesTable.ts';
import { Recent } from './recent.ts';
import type { Serde } from './records.ts';

/** How a compact store keeps a committed value as bytes (its key is given, so the bytes need not repeat it). */
export interface StoreCodec<V> {
  encode(key: string, value: V): Uint8Array;
  decode(key: string, bytes: Uint8Array): V;
  /** Optionally, `encode` straight from an Avro body in the store's value schema (a restore's fast path). */
  fromAvro?(key: string, body: Uint8Array): Uint8Array;
}

/**
 * An in-memory table whose writes are staged until the task's transaction commits (then they become visible as
 * committed state) or aborts (then they vanish). Every write is also handed to `log`, which appends it to the
 * changelog topic inside the same transaction; `restore` replays that changelog on assignment.
 *
 * Two transactions may be open at once: `seal` sets the current writes aside for the transaction that is
 * committing, and writes made meanwhile (the next transaction's) see them and lie above them. `commit` makes the
 * sealed writes committed state; `rollback` drops both.
 *
 * Committed values are kept as objects, or — with a codec (`compact`) — as bytes in a `BytesTable` outside the
 * JavaScript heap, decoded on read with the most recently read ones cached: a consent table of a million customers
 * then takes ~90 bytes an entry instead of kilobytes of objects, and the garbage collector never walks it.
 */
export class StagedStore<V> implements KeyValueStore<V> {
  /** Committed values: objects, or (compact) the codec's bytes. */
  private readonly objects = new Map<string, V>();
  private readonly bytes = new BytesTable();
  /** null: deleted in this transaction. */
  private staged = new Map<string, V | null>();
  /** The committing transaction's writes (see seal); null: deleted. */
  private sealed = new Map<string, V | null>();
  private sealing = false;
  /** Compact stores: recently read committed values, decoded. */
  private readonly decoded: Recent<V>;

  private log: (key: string, value: V | null) => void = () => {};

  constructor(private readonly compact?: { codec: StoreCodec<V>; cacheEntries?: number }) {
    this.decoded = new Recent(compact?.cacheEntries ?? 10_000);
  }

  /** Where writes are logged (the owning task's changelog output); null is a delete (a tombstone). */
  logTo(log: (key: string, value: V | null) => void): void {
    this.log = log;
  }

  get(key: string): V | undefined {
    if (this.staged.has(key)) return this.staged.get(key) ?? undefined;
    if (this.sealed.has(key)) return this.sealed.get(key) ?? undefined;
    return this.committedValue(key);
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
    for (const k of this.compact ? this.bytes.keys() : this.objects.keys()) if (!this.staged.has(k) && !this.sealed.has(k)) yield [k, this.committedValue(k)!];
    for (const [k, v] of this.sealed) if (v !== null && !this.staged.has(k)) yield [k, v];
    for (const [k, v] of this.staged) if (v !== null) yield [k, v];
  }

  get size(): number {
    let n = this.compact ? this.bytes.size : this.objects.size;
    const count = (k: string, v: V | null) => {
      const committed = this.compact ? this.bytes.has(k) : this.objects.has(k);
      if (v !== null && !committed) n++;
      if (v === null && committed) n--;
    };
    for (const [k, v] of this.sealed) if (!this.staged.has(k)) count(k, v);
    for (const [k, v] of this.staged) count(k, v);
    return n;
  }

  /** Sets the writes so far aside for the transaction that starts committing; later writes belong to the next. */
  seal(): void {
    if (this.sealing) throw new Error('a transaction is committing already');
    this.sealing = true;
    [this.sealed, this.staged] = [this.staged, this.sealed];
  }

  /** The sealed writes become committed state. */
  commit(): void {
    if (!this.sealing) throw new Error('commit without seal');
    this.sealing = false;
    for (const [k, v] of this.sealed) this.setCommitted(k, v);
    this.sealed.clear();
  }

  /** Drops every write not committed: the committing transaction's and the next one's. */
  rollback(): void {
    this.sealing = false;
    this.staged.clear();
    this.sealed.clear();
  }

  /** Applies one changelog record (its value as written, null for a tombstone) during restore. */
  restore(key: string, bytes: Buffer | null, serde: Serde<V>): Promise<void> | void {
    if (bytes === null) return this.setCommitted(key, null);
    // Bytes in the current schema decode at once (or go straight to the codec's bytes); older ones are resolved
    // against their writer schema first.
    if (bytes.length >= 5 && bytes[0] === 0 && bytes.readInt32BE(1) === serde.schemaId) {
      const fromAvro = this.compact?.codec.fromAvro;
      if (!fromAvro) return this.setCommitted(key, serde.decodeCurrent(bytes));
      this.decoded.delete(key);
      return this.bytes.set(key, fromAvro(key, bytes.subarray(5)));
    }
    return serde.decode(bytes).then((v) => this.setCommitted(key, v));
  }

  private setCommitted(key: string, value: V | null): void {
    this.decoded.delete(key);
    if (!this.compact) {
      if (value === null) this.objects.delete(key);
      else this.objects.set(key, value);
    } else if (value === null) this.bytes.delete(key);
    else this.bytes.set(key, this.compact.codec.encode(key, value));
  }

  private committedValue(key: string): V | undefined {
    if (!this.compact) return this.objects.get(key);
    let value = this.decoded.get(key);
    if (value === undefined) {
      const bytes = this.bytes.get(key);
      if (bytes === undefined) return undefined;
      value = this.compact.codec.decode(key, bytes);
      this.decoded.set(key, value);
    }
    return value;
  }
}
