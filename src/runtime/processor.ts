import type { Clock } from '../domain/clock.ts';
import type { InRecord, OutRecord } from './records.ts';
import type { ErrorCode } from '../errors.ts';

/** A task-local key-value store; writes are staged until the task's transaction commits and logged to its changelog. */
export interface KeyValueStore<V> {
  get(key: string): V | undefined;
  put(key: string, value: V): void;
  /** Removes the key (a tombstone in the changelog). */
  delete(key: string): void;
  /** Every entry, staged writes included. */
  entries(): IterableIterator<[string, V]>;
  readonly size: number;
}

export interface ProcessorContext {
  /** The partition number of the task running this processor. */
  readonly partition: number;
  readonly clock: Clock;
  /**
   * For stream inputs: true when every table input of the task was applied up to the end offset observed after
   * this record was fetched (read-your-revocation); false when that could not be confirmed in time.
   */
  readonly tablesCurrent: boolean;
  /** Buffers an output record; it is written in the task's next transaction, with the input offsets. */
  emit(record: OutRecord): void;
  /** Sends the input record, with its original bytes, to the dead-letter topic. */
  deadLetter(input: InRecord, code: ErrorCode, reason: string): void;
  /**
   * Adds to a counter of the engine's metrics once the transaction commits: a series key (`series(name, labels)`
   * in runtime/metrics.ts; Prometheus naming, e.g. consentgate_purge_commands_total; no customer data in labels).
   */
  count(series: string, n?: number): void;
  /** Adds a latency in ms to a named histogram of the engine's metrics once the transaction commits. */
  observe(metric: string, ms: number): void;
  /** Sets a gauge of this task (a series key; summed over the tasks of the engine), e.g. from a punctuator's scan. */
  gauge(series: string, value: number): void;
}

/**
 * One stage of the topology: init once per task, process each decoded input record, close on revocation.
 * `process` must not perform I/O: everything it produces goes through the context, inside the task's transaction.
 */
export interface Processor<V = unknown> {
  readonly name: string;
  /** 'table' inputs are applied before any 'stream' input of the same task is processed. */
  readonly role: 'table' | 'stream';
  /** Logical input topics. */
  readonly inputs: readonly string[];
  /** Physical topics it may emit to (its declared outputs and its stores' changelogs); others are refused. */
  readonly outputs?: { has(topic: string): boolean };
  process(input: InRecord, value: V, ctx: ProcessorContext): void;
  /**
   * Optional: the I/O a batch needs, done before `process` sees it (e.g. fetching data keys), since `process` may
   * not wait. Called with the decoded records of one input topic (its physical name), after the barrier.
   */
  prepare?(values: V[], topic: string): Promise<void>;
  /**
   * Optional: an in-band control record of an input (runtime/records.ts CONTROL_HEADER), in order with the records
   * around it; processors without it skip such records. Like `process`, no I/O.
   */
  control?(input: InRecord, ctx: ProcessorContext): void;
  /**
   * Optional: called once per transaction, after its input records and before it commits, for outputs that sum up
   * the batch (a replay's retractions, one per customer and sink). What it emits commits with those records.
   */
  flush?(ctx: ProcessorContext): void;
  /**
   * Optional: called about once a second, inside a transaction, with no input (timers in the spirit of Kafka
   * Streams' punctuators: SLA checks, re-sends). Due times must come from `ctx.clock`.
   */
  punctuate?(ctx: ProcessorContext): void;
}
