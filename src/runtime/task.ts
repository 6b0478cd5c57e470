import type { Clock } from '../domain/clock.ts';
import { ConsentgateError, type ErrorCode } from '../errors.ts';
import { monotonicNow, type EndOffsetsSource } from './endOffsets.ts';
import { series } from './metrics.ts';
import type { Processor, ProcessorContext } from './processor.ts';
import type { InRecord, OutRecord, RuntimeLogger, Serde, TopicPartitionOffset, TransactionalProducer } from './records.ts';
import { boundedDeadLetter, DEFAULT_MAX_MESSAGE_BYTES, type DeadLetterValue } from './deadLetters.ts';
import { isControl, recordBatchBytes } from './records.ts';
import type { StagedStore } from './store.ts';

export interface TaskInput {
  /** In order: each sees the record after the ones before it (and their staged store writes). Same role. */
  processors: Processor[];
  serde: Serde;
}

/** What one committed transaction did, for the engine's metrics. */
export interface CycleStats {
  /** Input records processed (decided, applied or dead-lettered). */
  records: number;
  deadLettered: number;
  /** Stream records held for the first time: their table could not be confirmed current yet. */
  held: number;
  /** Stream records decided with the table unconfirmed, after the maximum hold (BLOCKED CONSENT_UNCONFIRMED). */
  unconfirmed: number;
  counters: Map<string, number>;
  /** Latencies processors observed (ProcessorContext.observe), per histogram. */
  observations: Map<string, number[]>;
}

export interface TaskDeps {
  partition: number;
  groupId: string;
  /** Physical topic → its processor and serde. */
  inputs: Map<string, TaskInput>;
  /** Physical changelog topic → the store it restores. */
  changelogs: Map<string, { store: StagedStore<unknown>; serde: Serde }>;
  deadLetter: { topic: string; serde: Serde<DeadLetterValue>; withhold?: (key: string) => boolean };
  endOffsets: EndOffsetsSource;
  /** The pipeline clock: decision times, punctuation due times and how long a record has been held. */
  clock: Clock;
  logger: RuntimeLogger;
  /** How long one attempt waits for the table to catch up with the end offsets before its records are held. */
  consentWaitMs: number;
  /** How long a record may be held before it is decided with the table unconfirmed (BLOCKED CONSENT_UNCONFIRMED). */
  maxHoldMs: number;
  /**
   * The least time between the starts of two transactions (default 0: one after the other). Stream records that
   * arrive sooner wait for it unless a full batch is queued; table records are applied on arrival meanwhile, so a
   * withdrawal decides the records after it at once. Fewer, larger transactions cost the broker far less.
   */
  commitIntervalMs?: number;
  maxBatchRecords: number;
  /** The cause of lag while no record is held (consentgate_lag_seconds): backlog, or replay for a replay's engine. */
  lagCause?: 'backlog' | 'replay';
  /**
   * The largest record batch a topic accepts (its max.message.bytes; default the broker's 1 MiB): an input whose
   * output would be larger is dead-lettered instead, and a dead letter is cut to fit.
   */
  maxRecordBytes?: (topic: string) => number;
  /** How long records wait before a writer schema the registry could not serve is asked for again (default 1 s). */
  registryRetryMs?: number;
  /** Called after each committed transaction. */
  onCommitted(stats: CycleStats): void;
  /** A transaction attempt failed and was aborted (retried, or fatal after the last attempt), or the broker refused a record in it (bisected). */
  onTransactionFailed?(result: 'aborted' | 'refused'): void;
  /** The stores are restored; the task starts processing. */
  onRestored(): void;
  /** Restoring applied a chunk of changelog records (the engine re-checks its back-pressure). */
  onRestoreProgress(): void;
  /** Fatal for the task (fenced, or retries exhausted). */
  onFailed(err: Error): void;
}

export type { DeadLetterValue };

/** Where a task starts: committed input offsets (read after fencing) and the changelog range to restore. */
export interface StartOffsets {
  inputs: Map<string, bigint>;
  changelogEnds: Map<string, bigint>;
  changelogStarts: Map<string, bigint>;
}

type State = 'restoring' | 'running' | 'closed';
/** 'current': decide now. 'lagging': the table is behind its end offsets. 'unavailable': no end offsets to compare. */
type Barrier = 'current' | 'lagging' | 'unavailable';

const MAX_COMMIT_ATTEMPTS = 8;
/** How often processors with `punctuate` are called (wall clock; what is due is their clock's business). */
const PUNCTUATE_EVERY_MS = 1000;
/** Records processed between two yields to the event loop (and, in a batch of stream records, table updates). */
const CHUNK = 256;
/** Changelog records applied between two yields to the event loop while restoring. */
const RESTORE_CHUNK = 4096;
/** How long records wait before a writer schema the registry could not serve is asked for again (default). */
const REGISTRY_RETRY_MS = 1000;

/** The open transaction: what the task processed since the last commit started, and what it will write. */
interface Batch {
  outputs: OutRecord[];
  deadLettered: number;
  counters: Map<string, number>;
  observations: Map<string, number[]>;
  /**
   * Per topic, how many records from the front of its queue are processed: while the previous transaction commits,
   * its records are still queued in front and counted here too (subtracted once it commits).
   */
  taken: Map<string, number>;
}

/** Input records a batch has processed (including, while the previous one commits, that one's). */
const takenIn = (b: Batch): number => [...b.taken.values()].reduce((a, n) => a + n, 0);

const recordBytes = (r: InRecord): number => (r.key?.length ?? 0) + (r.value?.length ?? 0);

const newBatch = (taken = new Map<string, number>()): Batch => ({ outputs: [], deadLettered: 0, counters: new Map(), observations: new Map(), taken: new Map(taken) });

/** A processor context's metric calls, collected in the batch (reported once it commits). */
function metricsInto(b: Pick<Batch, 'counters' | 'observations'>): Pick<ProcessorContext, 'count' | 'observe'> {
  return {
    count: (key, n = 1) => b.counters.set(key, (b.counters.get(key) ?? 0) + n),
    observe: (metric, ms) => {
      const list = b.observations.get(metric);
      if (list) list.push(ms);
      else b.observations.set(metric, [ms]);
    },
  };
}

/** The engine's own series (processors add theirs): see the metrics table in the README. */
const deadLetterSeries = (topic: string, code: string) => series('consentgate_dead_letters_total', { topic, code });
const COMMITTED = series('consentgate_transactions_total', { result: 'committed' });

const yieldToEventLoop = () => new Promise<void>((r) => setImmediate(r));

/** The record, if its topic is one the processor declares as an output; a programming error otherwise. */
function declared(p: Processor, r: OutRecord): OutRecord {
  if (p.outputs && !p.outputs.has(r.topic)) throw new Error(`processor ${p.name} emitted to ${r.topic}, which it does not declare as an output`);
  return r;
}

/** How many of the first `max` records of a queue lie below `offset`. */
function countBelow(q: InRecord[], offset: bigint, max = q.length): number {
  let n = 0;
  while (n < max && BigInt(q[n]!.offset) < offset) n++;
  return n;
}

/**
 * The unit of work and of ownership for partition p: it reads partition p of every input and changelog topic,
 * applies table inputs before stream inputs, and commits outputs, changelog writes and input offsets in one
 * transaction with its own transactional producer.
 *
 * Read-your-revocation: stream records are decided only once each table topic's partition p has been applied up
 * to an end offset read by a request that started after the newest of them arrived (that look-up starts on
 * arrival, so it overlaps the previous cycle's commit). When that is not
 * confirmed — the end offsets do not arrive, or the table does not catch up within `consentWaitMs` of their
 * arrival (so our own event-loop stalls never count as table lag) — the records are *held*: left at the front of
 * their queue, in order, undecided, and retried next cycle. Table records keep being applied and committed
 * meanwhile. Only a record held for `maxHoldMs` is decided with `tablesCurrent = false`, which fails closed.
 */
export class PartitionTask {
  private state: State = 'restoring';
  private readonly queues = new Map<string, InRecord[]>();
  /** Next offset expected per topic: every record below it was queued already (re-deliveries are dropped). */
  private readonly position = new Map<string, bigint>();
  /**
   * Per stream topic, when its held records were first held: records below `below` since `since`. Both grow along
   * the queue, so the records held past the maximum are always a prefix.
   */
  private readonly holds = new Map<string, { below: bigint; since: number }[]>();
  /** Per input topic whose next record needs a writer schema the registry could not serve: when (monotonic) to ask again. */
  private readonly registryWait = new Map<string, number>();
  /** Bytes of the records queued for stream inputs (see streamBacklogBytes). */
  private streamBytes = 0;
  /**
   * Per stream topic, when its queued records arrived: records below `below` had arrived by monotonic time `at`.
   * A barrier for records taken from the queue needs end offsets read after the newest of them *arrived*, not after
   * the cycle took them, so the look-up can start at arrival and overlap the previous cycle's commit.
   */
  private readonly arrivals = new Map<string, { below: bigint; at: number }[]>();
  /** Gauges the processors set (ProcessorContext.gauge): their latest values. */
  private readonly processorGauges = new Map<string, number>();
  /** The last time lag figure per input topic (see gauges). */
  private readonly lastLagSeconds = new Map<string, number>();
  /** Monotonic time the task started holding (for the log lines on entering and leaving a hold). */
  private holdingSince?: number;
  private producer?: TransactionalProducer;
  private openProducer?: () => Promise<TransactionalProducer>;
  private batch = newBatch();
  /** While a transaction the broker refused is bisected: input records a cycle may take, and how many are left to get through. */
  private isolating?: { limit: number; remaining: number };
  private wake?: () => void;
  private loop?: Promise<void>;
  private restoreTargets = new Map<string, bigint>();
  private readonly tableTopics: string[];
  private readonly streamTopics: string[];

  private readonly punctuators: Processor[];
  private readonly flushers: Processor[];
  /** consentgate_records_in_total{topic} of each input topic. */
  private readonly inSeries = new Map<string, string>();
  private lastPunctuation = 0;
  /** Monotonic time the last transaction started to commit. */
  private lastCommitStart = -Infinity;

  /**
   * Changelog writes of the stores, staged with the current cycle's outputs: the last write per key (compacted),
   * encoded when the cycle commits, so a key written many times in a cycle is encoded once.
   */
  private readonly changelogOut = new Map<string, { topic: string; key: string; value: unknown; serde: Serde }>();

  constructor(private readonly d: TaskDeps) {
    for (const t of [...d.inputs.keys(), ...d.changelogs.keys()]) this.queues.set(t, []);
    for (const t of d.inputs.keys()) this.inSeries.set(t, series('consentgate_records_in_total', { topic: t }));
    const byRole = (role: 'table' | 'stream') => [...d.inputs].filter(([, i]) => i.processors[0]!.role === role).map(([t]) => t);
    this.tableTopics = byRole('table');
    this.streamTopics = byRole('stream');
    for (const t of this.streamTopics) {
      this.holds.set(t, []);
      this.arrivals.set(t, []);
    }
    const processors = [...new Set([...d.inputs.values()].flatMap((i) => i.processors))];
    this.punctuators = processors.filter((p) => p.punctuate);
    this.flushers = processors.filter((p) => p.flush);
    for (const [topic, { store, serde }] of d.changelogs) {
      store.logTo((key, value) => this.changelogOut.set(`${topic}\u0000${key}`, { topic, key, value, serde }));
    }
  }

  get partition(): number {
    return this.d.partition;
  }

  get isRunning(): boolean {
    return this.state === 'running';
  }

  /** Per changelog topic, its records queued and not yet applied, while restoring; undefined once running. */
  get restoreBacklog(): Map<string, number> | undefined {
    if (this.state !== 'restoring') return undefined;
    return new Map([...this.d.changelogs.keys()].map((t) => [t, this.queues.get(t)!.length]));
  }

  /** Records queued for stream inputs, held ones included, for back-pressure. */
  /** Bytes (keys and values) of the records queued for stream inputs, for back-pressure by size. */
  get streamBacklogBytes(): number {
    return this.streamBytes;
  }

  get streamBacklog(): number {
    return this.streamTopics.reduce((n, t) => n + this.queues.get(t)!.length, 0);
  }

  /** Stream records held right now (not yet decided because their table could not be confirmed current). */
  get heldRecords(): number {
    let n = 0;
    for (const [t, marks] of this.holds) {
      const below = marks.at(-1)?.below;
      if (below !== undefined) n += countBelow(this.queues.get(t)!, below);
    }
    return n;
  }

  /**
   * This task's gauges (series key → value): per input topic the records not processed yet and the age of the
   * oldest fetched one, by cause; the processors' gauges; each store's entries; records left to restore.
   *
   * Record lag is the end offset (`ends`, "topic:partition" → last stable offset) minus the first offset not
   * processed: the head of the queue, or — nothing queued — the consumer's position, which moves past transaction
   * markers, so a fully processed transactional partition has lag 0, not 1. Time lag is exact: now minus the
   * timestamp of the oldest fetched record not yet decided ("consent_wait" while the task holds records for an
   * unconfirmed table, "backlog" otherwise); when none is fetched it is 0 if nothing is left, else the last figure.
   */
  gauges(ends: Map<string, bigint>, out: Record<string, number>): void {
    const partition = this.d.partition;
    const now = this.d.clock.now();
    for (const topic of this.d.inputs.keys()) {
      const head = this.queues.get(topic)![0];
      const end = ends.get(`${topic}:${partition}`);
      // Nothing fetched or committed yet: known only for an empty partition.
      const next = head ? BigInt(head.offset) : (this.position.get(topic) ?? (end === 0n ? 0n : undefined));
      if (next === undefined || end === undefined) continue;
      const records = end > next ? Number(end - next) : 0;
      const seconds = head ? Math.max(0, now - Number(head.timestamp)) / 1000 : records === 0 ? 0 : (this.lastLagSeconds.get(topic) ?? 0);
      this.lastLagSeconds.set(topic, seconds);
      const waiting = this.holdingSince !== undefined && this.holds.has(topic);
      const labels = { group: this.d.groupId, topic, partition };
      out[series('kafka_consumergroup_group_lag', labels)] = records;
      out[series('kafka_consumergroup_group_lag_seconds', labels)] = seconds;
      out[series('consentgate_lag_seconds', { ...labels, cause: this.d.lagCause ?? 'backlog' })] = waiting ? 0 : seconds;
      out[series('consentgate_lag_seconds', { ...labels, cause: 'consent_wait' })] = waiting ? seconds : 0;
    }
    for (const [key, value] of this.processorGauges) out[key] = (out[key] ?? 0) + value;
    for (const [topic, { store }] of this.d.changelogs) {
      const key = series('consentgate_store_entries', { store: topic });
      out[key] = (out[key] ?? 0) + store.size;
      const target = this.restoreTargets.get(topic);
      const head = this.queues.get(topic)![0];
      const applied = this.state !== 'restoring' ? target : head ? BigInt(head.offset) : this.position.get(topic);
      out[series('consentgate_restore_remaining_records', { topic, partition })] = target !== undefined && applied !== undefined && target > applied ? Number(target - applied) : 0;
    }
  }

  /** Takes a fetched batch; records below the known position (re-deliveries after a rejoin) are dropped. */
  enqueue(topic: string, records: InRecord[]): void {
    const q = this.queues.get(topic);
    if (!q || this.state === 'closed' || records.length === 0) return;
    const pos = this.position.get(topic);
    // Changelog records matter only while restoring; afterwards this task is their writer.
    if (!this.d.changelogs.has(topic) || this.state === 'restoring') {
      // Records come in offset order: only a batch that starts below the position holds re-deliveries.
      const fresh = pos === undefined || BigInt(records[0]!.offset) >= pos;
      const stream = this.holds.has(topic);
      for (const r of records) {
        if (!fresh && BigInt(r.offset) < pos!) continue;
        q.push(r);
        if (stream) this.streamBytes += recordBytes(r);
      }
    }
    const next = BigInt(records[records.length - 1]!.offset) + 1n;
    const arrivals = this.arrivals.get(topic);
    if (arrivals && this.tableTopics.length) {
      const at = monotonicNow();
      arrivals.push({ below: next, at });
      // Start the barrier's end-offset look-up now; the cycle that takes these records reuses it.
      if (this.state === 'running') this.d.endOffsets.after(at).catch(() => {});
    }
    this.advance(topic, next);
  }

  /** The consumer moved past `next` on `topic` (also for batches holding only transaction markers). */
  advance(topic: string, next: bigint): void {
    const pos = this.position.get(topic);
    if (pos === undefined || next > pos) this.position.set(topic, next);
    this.wake?.();
  }

  /**
   * Fences the previous owner (opening the transactional producer), then learns where to start: committed input
   * offsets read after fencing, and the changelog end offsets to restore up to.
   */
  async start(open: () => Promise<TransactionalProducer>, starts: () => Promise<StartOffsets>): Promise<void> {
    this.openProducer = open;
    this.producer = await open();
    if (this.state === 'closed') {
      await this.producer.close(); // closed (revoked) while it opened: it has no work and must not hold a connection
      return;
    }
    const s = await starts();
    for (const [topic, offset] of s.inputs) {
      const q = this.queues.get(topic)!;
      const kept = q.filter((r) => BigInt(r.offset) >= offset); // not splice(...kept): it may be huge
      if (this.holds.has(topic)) for (const r of q) if (BigInt(r.offset) < offset) this.streamBytes -= recordBytes(r);
      this.queues.set(topic, kept);
      const pos = this.position.get(topic);
      if (pos === undefined || pos < offset) this.position.set(topic, offset);
    }
    for (const [topic, start] of s.changelogStarts) {
      const pos = this.position.get(topic);
      if (pos === undefined) this.position.set(topic, start);
    }
    this.restoreTargets = s.changelogEnds;
    this.loop = this.run();
  }

  /** Stops after the current transaction; held records stay uncommitted, so the next owner decides them. */
  async close(): Promise<void> {
    if (this.state !== 'closed') {
      this.state = 'closed';
      this.wake?.();
    }
    await this.loop?.catch(() => {});
    await this.producer?.close(); // also after the task failed (and closed itself): its producer is still connected
  }

  private waitForWork(ms?: number): Promise<void> {
    return new Promise((resolve) => {
      const t = ms === undefined ? undefined : setTimeout(done, ms);
      const self = this;
      function done() {
        if (t) clearTimeout(t);
        self.wake = undefined;
        resolve();
      }
      this.wake = done;
    });
  }

  private async run(): Promise<void> {
    try {
      await this.restore();
      if (this.state !== 'closed') {
        this.state = 'running';
        this.d.onRestored();
        this.d.logger.info({ partition: this.d.partition }, 'task running');
      }
      while (this.state === 'running') {
        const punctuateIn = this.punctuators.length ? this.lastPunctuation + PUNCTUATE_EVERY_MS - Date.now() : Infinity;
        if (!this.hasWork() && punctuateIn > 0) {
          const wakeIn = Math.min(punctuateIn, ...[...this.registryWait.values()].map((until) => until - monotonicNow()));
          await this.waitForWork(Number.isFinite(wakeIn) ? Math.max(1, wakeIn) : undefined);
          continue;
        }
        const due = this.lastCommitStart + (this.d.commitIntervalMs ?? 0) - monotonicNow();
        if (due > 0 && this.streamBacklog < this.d.maxBatchRecords && !this.isolating) {
          await this.applyTables(this.batch);
          await this.waitForWork(due);
          continue;
        }
        await this.cycle();
      }
    } catch (err) {
      if (this.state !== 'closed') {
        this.state = 'closed';
        this.d.onFailed(err as Error);
      }
    }
  }

  private async restore(): Promise<void> {
    for (const [topic, { store, serde }] of this.d.changelogs) {
      const target = this.restoreTargets.get(topic) ?? 0n;
      const q = this.queues.get(topic)!;
      let restored = 0;
      while (this.state === 'restoring') {
        const records = q.splice(0, RESTORE_CHUNK);
        // In offset order: only when the last one is at the target or past it must each be compared.
        const allBelow = records.length > 0 && BigInt(records[records.length - 1]!.offset) < target;
        for (const r of records) {
          if (!allBelow && BigInt(r.offset) >= target) continue;
          const pending = store.restore(r.key?.toString('utf8') ?? '', r.value, serde);
          if (pending) await pending;
          restored++;
        }
        this.d.onRestoreProgress();
        if (q.length > 0) await yieldToEventLoop();
        else if ((this.position.get(topic) ?? 0n) >= target) break;
        else await this.waitForWork(1000);
      }
      this.d.logger.info({ partition: this.d.partition, changelog: topic, restored, entries: store.size }, 'store restored');
    }
  }

  private hasWork(): boolean {
    const now = monotonicNow();
    for (const t of this.d.inputs.keys()) if (this.queues.get(t)!.length && !((this.registryWait.get(t) ?? 0) > now)) return true;
    return false;
  }

  /**
   * Processes queued records of `topic` into the open batch, up to index `upTo` of its queue, in chunks: each
   * decoded, prepared and processed, then the event loop gets a turn (one task's batch cannot starve the others'
   * I/O). Between the chunks of a stream topic the table records fetched meanwhile are applied, so a withdrawal
   * never waits for a long batch to end.
   */
  private async processQueued(b: Batch, topic: string, upTo: number, tablesCurrent: boolean): Promise<void> {
    const q = this.queues.get(topic)!;
    const input = this.d.inputs.get(topic)!;
    const stream = input.processors[0]!.role === 'stream';
    let current = input.processors[0]!;
    const metrics = metricsInto(b);
    const ctx: ProcessorContext = {
      partition: this.d.partition,
      clock: this.d.clock,
      tablesCurrent,
      emit: (r) => b.outputs.push(declared(current, r)),
      deadLetter: (rec, code, reason) => {
        b.deadLettered++;
        b.outputs.push(this.deadLetterRecord(rec, code, reason, current.name));
        metrics.count(deadLetterSeries(rec.topic, code));
      },
      ...metrics,
      gauge: (key, value) => this.processorGauges.set(key, value),
    };
    if ((this.registryWait.get(topic) ?? 0) > monotonicNow()) return;
    for (let from = b.taken.get(topic) ?? 0; from < upTo;) {
      let to = Math.min(upTo, from + CHUNK);
      const decoded: [InRecord, unknown][] = [];
      let unavailable: ConsentgateError | undefined;
      // A control record is handled on its own, between chunks: what it changes applies from the record after it.
      const control = isControl(q[from]!) ? q[from]! : undefined;
      if (control) {
        for (const processor of input.processors) {
          current = processor;
          processor.control?.(control, ctx);
        }
        b.taken.set(topic, ++from);
        continue;
      }
      for (let i = from; i < to; i++) {
        const rec = q[i]!;
        if (isControl(rec)) {
          to = i;
          break;
        }
        try {
          decoded.push([rec, await input.serde.decode(rec.value)]);
        } catch (err) {
          // The registry is down (not the record's fault): this record and the ones after it wait, in order.
          if (err instanceof ConsentgateError && err.retriable) {
            unavailable = err;
            to = i;
            break;
          }
          ctx.deadLetter(rec, err instanceof ConsentgateError ? err.code : 'DESERIALIZATION_FAILED', (err as Error).message);
        }
      }
      for (const processor of input.processors) await processor.prepare?.(decoded.map(([, v]) => v), topic);
      for (const [rec, value] of decoded) {
        const mark = b.outputs.length;
        for (const processor of input.processors) {
          current = processor;
          processor.process(rec, value, ctx);
        }
        // No record can stop a partition: one whose output the topic would refuse is dead-lettered instead.
        const tooLarge = this.oversized(b.outputs, mark);
        if (tooLarge) {
          b.outputs.length = mark;
          ctx.deadLetter(rec, 'RECORD_TOO_LARGE', tooLarge);
        }
      }
      if (to > from && this.registryWait.delete(topic)) this.d.logger.info({ partition: this.d.partition, topic }, 'schema registry reachable again: records resume');
      b.taken.set(topic, (from = to));
      if (unavailable) return this.waitForRegistry(topic, unavailable);
      if (from < upTo) {
        await yieldToEventLoop();
        if (stream && !this.isolating) await this.applyTables(b);
      }
    }
  }

  /** Records of `topic` wait for the schema registry: tried again after registryRetryMs, never dead-lettered. */
  private waitForRegistry(topic: string, err: ConsentgateError): void {
    if (!this.registryWait.has(topic)) {
      this.d.logger.warn({ partition: this.d.partition, topic, code: err.code, err: err.message }, 'schema registry unavailable: records wait for it (none is dead-lettered for it)');
    }
    this.registryWait.set(topic, monotonicNow() + (this.d.registryRetryMs ?? REGISTRY_RETRY_MS));
  }

  /**
   * Applies every queued table record to the open batch (records may arrive while a decode awaits); while a refused
   * transaction is bisected, no more than its limit of input records in the batch.
   */
  private async applyTables(b: Batch): Promise<void> {
    for (const t of this.tableTopics) {
      const q = this.queues.get(t)!.length;
      const room = this.isolating ? this.isolating.limit - takenIn(b) : Infinity;
      if (room <= 0) return;
      await this.processQueued(b, t, Math.min(q, (b.taken.get(t) ?? 0) + room), true);
    }
  }

  /** Whether the open batch has applied every queued record of table topic `t`. */
  private applied(b: Batch, t: string): boolean {
    return (b.taken.get(t) ?? 0) === this.queues.get(t)!.length;
  }

  /**
   * One transaction: table records, then (after the barrier) up to maxBatchRecords stream records, or a hold. The
   * open batch may already hold table records applied while the previous transaction committed.
   */
  private async cycle(): Promise<void> {
    const cycleStart = monotonicNow();
    const b = this.batch;
    const tables = this.tableTopics;
    await this.applyTables(b);

    // Stream records taken now; the barrier below refers to the moment the newest of them arrived.
    const streamTake = new Map<string, number>();
    let budget = this.isolating ? Math.max(0, this.isolating.limit - takenIn(b)) : this.d.maxBatchRecords;
    let takenAt = -Infinity;
    for (const t of this.streamTopics) {
      const q = this.queues.get(t)!;
      const n = Math.min(budget, q.length);
      if (n > 0) {
        streamTake.set(t, n);
        takenAt = Math.max(takenAt, this.arrivedBy(t, BigInt(q[n - 1]!.offset)));
      }
      budget -= n;
    }
    let held = 0;
    let unconfirmed = 0;
    let pause = 0;
    if (streamTake.size > 0) {
      const barrierStart = monotonicNow();
      const barrier = await this.barrier(b, takenAt);
      metricsInto(b).observe('barrierWaitMs', monotonicNow() - barrierStart);
      if (barrier === 'current') {
        for (const [t, n] of streamTake) await this.processQueued(b, t, n, true);
        if (this.holdingSince) {
          this.d.logger.info({ partition: this.d.partition, heldMs: Math.round(monotonicNow() - this.holdingSince) }, 'table confirmed current: held records released');
          this.holdingSince = undefined;
        }
      } else {
        for (const [t, n] of streamTake) {
          const expired = this.heldPastMaximum(t, n);
          if (expired > 0) await this.processQueued(b, t, expired, false);
          unconfirmed += expired;
          held += this.hold(t, n);
        }
        // Pace the retries: one attempt per consentWaitMs, even when the end offsets fail at once.
        pause = Math.max(0, this.d.consentWaitMs - (monotonicNow() - cycleStart));
        if (!this.holdingSince) {
          this.holdingSince = monotonicNow();
          this.d.logger.warn({ partition: this.d.partition, cause: barrier }, 'table not confirmed current: holding stream records until it is');
        }
      }
    }

    const noInput = (p: Processor): ProcessorContext => ({
      partition: this.d.partition, clock: this.d.clock, tablesCurrent: true,
      emit: (r) => b.outputs.push(declared(p, r)),
      deadLetter: () => { throw new Error(`${p.name}: a flush or punctuation has no input to dead-letter`); },
      ...metricsInto(b),
      gauge: (key, value) => this.processorGauges.set(key, value),
    });
    for (const p of this.flushers) p.flush!(noInput(p));
    if (this.punctuators.length && !this.isolating && Date.now() - this.lastPunctuation >= PUNCTUATE_EVERY_MS) {
      this.lastPunctuation = Date.now();
      for (const p of this.punctuators) p.punctuate!(noInput(p));
    }

    const offsets: TopicPartitionOffset[] = [];
    for (const topic of this.d.inputs.keys()) {
      const q = this.queues.get(topic)!;
      const n = b.taken.get(topic) ?? 0;
      // A drained queue is done up to the consumer position, which also moves over transaction markers.
      const next = n === q.length ? this.position.get(topic) : n > 0 ? BigInt(q[n - 1]!.offset) + 1n : undefined;
      if (next !== undefined) offsets.push({ topic, partition: this.d.partition, offset: next.toString() });
    }
    for (const { topic, key, value, serde } of this.changelogOut.values()) { // not push(...): it may hold 100k+ records
      b.outputs.push({ topic, key, value: value === null ? null : serde.encode(value), partition: this.d.partition });
    }
    this.changelogOut.clear();
    const records = takenIn(b);
    if (records > 0 || b.outputs.length > 0) {
      // The next batch starts past this one's records, which stay queued until the commit succeeds.
      this.batch = newBatch(b.taken);
      const commitStart = (this.lastCommitStart = monotonicNow());
      try {
        await this.commitApplyingTables(b.outputs, offsets);
      } catch (err) {
        if (!(err instanceof ConsentgateError && err.code === 'RECORD_REJECTED') || records === 0) throw err;
        this.d.onTransactionFailed?.('refused');
        return this.bisect(b, records, err);
      }
      metricsInto(b).observe('transactionMs', monotonicNow() - commitStart);
      for (const [topic, n] of b.taken) this.batch.taken.set(topic, this.batch.taken.get(topic)! - n);
      this.committed(b.taken, { records, deadLettered: b.deadLettered, held, unconfirmed, counters: b.counters, observations: b.observations });
    } else if (held > 0) {
      this.d.onCommitted({ records: 0, deadLettered: 0, held, unconfirmed: 0, counters: b.counters, observations: b.observations });
    }
    if (pause > 0 && this.state === 'running') await new Promise((r) => setTimeout(r, pause));
  }

  /**
   * Commits one transaction and, while its commit is in flight, applies table records that arrive to the next
   * batch (the stores keep the committing writes sealed beneath): a withdrawal takes effect when it is fetched, not
   * one commit later.
   */
  private async commitApplyingTables(outputs: OutRecord[], offsets: TopicPartitionOffset[]): Promise<void> {
    let settled = false;
    const committing = this.commit(outputs, offsets).finally(() => {
      settled = true;
      this.wake?.();
    });
    committing.catch(() => {}); // awaited below; this only keeps it from counting as unhandled meanwhile
    while (!settled && this.state === 'running' && !this.isolating) {
      if (this.tableTopics.every((t) => this.applied(this.batch, t))) await this.waitForWork();
      else await this.applyTables(this.batch);
    }
    await committing;
  }

  /**
   * The broker refused the transaction of batch `b` for one of its records (RECORD_REJECTED: not retriable, the same
   * records would be refused again). The stores are rolled back and the records are still queued: the next cycles
   * take at most half as many input records, halving again at each refusal, so the others commit and the record at
   * fault ends alone — then it is dead-lettered by itself, and full batches resume once the refused ones are through.
   */
  private async bisect(b: Batch, records: number, err: ConsentgateError): Promise<void> {
    this.batch = newBatch(); // the queues still hold every record of `b` and of the batch opened after it
    // A refused batch leaves the producer's sequence numbers ahead of the broker's (OUT_OF_ORDER_SEQUENCE_NUMBER
    // next): a fresh producer session (InitProducerId, a new epoch of the same transactional id) starts them again.
    await this.producer!.close();
    this.producer = await this.openProducer!();
    if (records > 1) {
      this.isolating = { limit: Math.max(1, Math.floor(records / 2)), remaining: records };
      this.d.logger.warn({ partition: this.d.partition, records, limit: this.isolating.limit, err: err.message }, 'the broker refused a transaction for one of its records: bisecting');
      return;
    }
    const [topic] = [...b.taken].find(([, n]) => n > 0)!;
    const rec = this.queues.get(topic)![0]!;
    await this.commit([this.deadLetterRecord(rec, 'RECORD_REJECTED', err.message, 'engine')], [{ topic, partition: this.d.partition, offset: String(BigInt(rec.offset) + 1n) }]);
    this.d.logger.warn({ partition: this.d.partition, topic, offset: rec.offset }, 'the record the broker refused is dead-lettered alone');
    this.committed(new Map([[topic, 1]]), { records: 1, deadLettered: 1, held: 0, unconfirmed: 0, counters: new Map([[deadLetterSeries(topic, 'RECORD_REJECTED'), 1]]), observations: new Map() });
  }

  /**
   * After a transaction committed: its records leave their queues (counted per topic, and a stream record's
   * decision latency observed: its timestamp → now, committed), a bisection counts them, the engine hears of it.
   */
  private committed(taken: Map<string, number>, stats: CycleStats): void {
    const m = metricsInto(stats);
    m.count(COMMITTED);
    const now = this.d.clock.now();
    for (const [topic, n] of taken) {
      if (n === 0) continue;
      m.count(this.inSeries.get(topic)!, n);
      if (this.holds.has(topic)) {
        const q = this.queues.get(topic)!;
        for (let i = 0; i < n; i++) m.observe('decisionLatencyMs', Math.max(0, now - Number(q[i]!.timestamp)));
      }
      this.dequeue(topic, n);
    }
    this.releaseHolds();
    if (this.isolating && (this.isolating.remaining -= stats.records) <= 0) {
      this.isolating = undefined;
      this.d.logger.info({ partition: this.d.partition }, 'refused transaction bisected: back to full batches');
    }
    this.d.onCommitted(stats);
  }

  /**
   * Whether every table topic's partition is applied up to the end offset read by a request that started after
   * `takenAt` (when the newest record to decide arrived). The wait for the end offsets is bounded by the source's
   * own timeout, and the wait for the table to catch up starts only when they arrive: time this process spent busy
   * elsewhere never counts as table lag.
   */
  private async barrier(b: Batch, takenAt: number): Promise<Barrier> {
    const tables = this.tableTopics;
    if (tables.length === 0) return 'current';
    let ends: Map<string, bigint>;
    try {
      ends = await this.d.endOffsets.after(takenAt);
    } catch (err) {
      this.d.logger.debug({ partition: this.d.partition, err: (err as Error).message }, 'table end offsets unavailable');
      return 'unavailable';
    }
    const deadline = monotonicNow() + this.d.consentWaitMs;
    for (;;) {
      await this.applyTables(b);
      // Every record below the end offset was queued (position) and every queued record was applied.
      const behind = tables.some((t) => !this.applied(b, t) || (this.position.get(t) ?? 0n) < (ends.get(`${t}:${this.d.partition}`) ?? 0n));
      if (!behind) return 'current';
      const left = deadline - monotonicNow();
      if (left <= 0 || this.state !== 'running') return 'lagging';
      await this.waitForWork(Math.min(left, 50));
    }
  }

  /** Marks the first `n` records of `topic` as held (from now, unless held already); returns how many are new. */
  private hold(topic: string, n: number): number {
    const q = this.queues.get(topic)!;
    const marks = this.holds.get(topic)!;
    const below = marks.at(-1)?.below ?? -1n;
    let fresh = 0;
    for (let i = n - 1; i >= 0 && BigInt(q[i]!.offset) >= below; i--) fresh++;
    if (fresh > 0) marks.push({ below: BigInt(q[n - 1]!.offset) + 1n, since: this.d.clock.now() });
    return fresh;
  }

  /** How many of the first `n` records of `topic` have been held for maxHoldMs or longer. */
  private heldPastMaximum(topic: string, n: number): number {
    const cutoff = this.d.clock.now() - this.d.maxHoldMs;
    let below = -1n;
    for (const m of this.holds.get(topic)!) if (m.since <= cutoff) below = m.below;
    return countBelow(this.queues.get(topic)!, below, n);
  }

  /** When the record at `offset` of stream topic `topic` had arrived (now, if no arrival was noted). */
  private arrivedBy(topic: string, offset: bigint): number {
    for (const a of this.arrivals.get(topic)!) if (offset < a.below) return a.at;
    return monotonicNow();
  }

  /** Removes the first `n` records of `topic`'s queue (decided and committed). */
  private dequeue(topic: string, n: number): void {
    const gone = this.queues.get(topic)!.splice(0, n);
    if (this.holds.has(topic)) for (const r of gone) this.streamBytes -= recordBytes(r);
  }

  /** Forgets the hold and arrival marks of records that are decided now (no longer in the queue). */
  private releaseHolds(): void {
    for (const t of this.streamTopics) {
      const head = this.queues.get(t)![0];
      const first = head === undefined ? undefined : BigInt(head.offset);
      for (const marks of [this.holds.get(t)!, this.arrivals.get(t)!]) {
        while (marks.length && (first === undefined || marks[0]!.below <= first)) marks.shift();
      }
    }
  }

  private async commit(outputs: OutRecord[], offsets: TopicPartitionOffset[]): Promise<void> {
    const stores = [...this.d.changelogs.values()].map((c) => c.store);
    for (const s of stores) s.seal();
    for (let attempt = 1; ; attempt++) {
      try {
        await this.producer!.commit(outputs, this.d.groupId, offsets);
        for (const s of stores) s.commit();
        return;
      } catch (err) {
        const e = err as ConsentgateError;
        if (e.code !== 'RECORD_REJECTED') this.d.onTransactionFailed?.('aborted');
        if (!e.retriable || attempt >= MAX_COMMIT_ATTEMPTS || this.state !== 'running') {
          for (const s of stores) s.rollback();
          throw err;
        }
        this.d.logger.warn({ partition: this.d.partition, code: e.code, attempt }, 'transaction failed; retrying');
        await new Promise((r) => setTimeout(r, 100 * 2 ** attempt));
      }
    }
  }

  /** Why the first output from index `from` on is larger than its topic accepts; undefined when all fit. */
  private oversized(outputs: OutRecord[], from: number): string | undefined {
    for (let i = from; i < outputs.length; i++) {
      const r = outputs[i]!;
      if (r.topic === this.d.deadLetter.topic) continue; // cut to fit when made
      const bytes = recordBatchBytes(r);
      const limit = this.maxRecordBytes(r.topic);
      if (bytes > limit) return `its ${r.topic} record would take ${bytes} bytes, over that topic's max.message.bytes (${limit})`;
    }
    return undefined;
  }

  private maxRecordBytes(topic: string): number {
    return this.d.maxRecordBytes?.(topic) ?? DEFAULT_MAX_MESSAGE_BYTES;
  }

  private deadLetterRecord(input: InRecord, code: ErrorCode, reason: string, processor: string): OutRecord {
    const withheld = input.key !== null && (this.d.deadLetter.withhold?.(input.key.toString('utf8')) ?? false);
    const value: DeadLetterValue = {
      topic: input.topic,
      partition: input.partition,
      offset: input.offset,
      key: input.key,
      value: withheld ? null : input.value,
      headers: withheld ? {} : input.headers,
      errorCode: code,
      error: (withheld ? `[original bytes withheld: the customer is erased] ${reason}` : reason).slice(0, 1000),
      processor,
      failedAt: this.d.clock.now(),
    };
    return { topic: this.d.deadLetter.topic, ...boundedDeadLetter(value, this.d.deadLetter.serde, this.maxRecordBytes(this.d.deadLetter.topic)) };
  }
}
