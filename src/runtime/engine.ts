import { EventEmitter } from 'node:events';
import { EndOffsetReader, PARTITIONS_FETCHED, TaskProducer, committedOffsets, topicMaxMessageBytes, coPartitionedAssigner, toInRecord, topicOffsets, type Admin, type Consumer, type FetchedEnds, type Kafka } from '../adapters/kafka.ts';
import type { Clock } from '../domain/clock.ts';
import { wireTask } from './blueprint.ts';
import { EndOffsetsProbe, FetchedEndOffsets, monotonicNow } from './endOffsets.ts';
import { series } from './metrics.ts';
import type { RuntimeLogger, SerdeRegistry } from './records.ts';
import { DEFAULT_MAX_MESSAGE_BYTES } from './deadLetters.ts';
import { emptyHistogram, histogramCount, observe, quantile, type Histogram } from './histogram.ts';
import { PartitionTask } from './task.ts';
import type { Topology } from './topology.ts';

export interface EngineOptions<Deps> {
  kafka: Kafka;
  admin: Admin;
  topology: Topology<Deps>;
  /** What the graph's processors need (handed to each task's instance of the graph). */
  deps: Deps;
  serdes: SerdeRegistry;
  clock: Clock;
  logger: RuntimeLogger;
  consentWaitMs: number;
  maxHoldMs: number;
  /** The least time between the starts of a task's transactions (see TaskDeps.commitIntervalMs; default 0). */
  commitIntervalMs?: number;
  maxBatchRecords: number;
  /** Consumer session timeout; a crashed instance's partitions move after this long. */
  sessionTimeoutMs?: number;
  /** The cause consentgate_lag_seconds gives this engine's lag when records wait their turn: backlog (default), or replay. */
  lagCause?: 'backlog' | 'replay';
}

export interface EngineMetrics {
  committedTransactions: number;
  processedRecords: number;
  deadLettered: number;
  /** Stream records held at least once because their table could not be confirmed current (each counted once). */
  held: number;
  /** Stream records blocked CONSENT_UNCONFIRMED after the maximum hold. */
  unconfirmed: number;
  assignedPartitions: number[];
  /** Counters by series key (runtime/metrics.ts): the engine's and those processors keep, committed with their transactions. */
  counters: Record<string, number>;
  /** Latency histograms processors observe (e.g. optOutPropagationMs), committed with their transactions. */
  histograms: Record<string, Histogram>;
  /** State by series key, sampled every second: consumer lag (records, seconds by cause), store entries, restore progress, held records. */
  gauges: Record<string, number>;
}

/** Counters exported from the start, at 0, so that a dashboard's rate() has a series before the first event. */
const ZERO_COUNTERS = [
  ...['committed', 'aborted', 'refused'].map((result) => series('consentgate_transactions_total', { result })),
  ...['commands', 'resends', 'escalations', 'acks_ignored'].map((what) => series(`consentgate_purge_${what}_total`)),
];

/** How often the gauges are sampled, and how often the input topics' end offsets (for the lag) are read. */
const GAUGES_EVERY_MS = 1000;
const LAG_ENDS_EVERY_MS = 2000;

/** The metrics for a log line: each histogram as its count, p50 and p99 instead of ~1,300 bucket counts; no gauges (/metrics has them). */
export function metricsForLog(m: EngineMetrics): Omit<EngineMetrics, 'histograms' | 'gauges'> & { histograms: Record<string, { count: number; p50Ms?: number; p99Ms?: number }> } {
  const histograms = Object.fromEntries(Object.entries(m.histograms).map(([k, h]) => [k, { count: histogramCount(h), p50Ms: quantile(h, 0.5), p99Ms: quantile(h, 0.99) }]));
  const { gauges: _, ...rest } = m;
  return { ...rest, histograms };
}

/**
 * How long a barrier waits for one of this instance's fetches to bring the tables' end offsets before it looks them
 * up as well (ListOffsets). A busy consumer's next fetch answers within a few ms; an idle one's waits up to its
 * maxWaitTimeInMs (100) for data, and a lone record should not wait that long.
 */
const FETCH_GRACE_MS = 20;

const MAX_BACKLOG_FACTOR = 5;
/**
 * A changelog partition being restored is paused above this many times maxBatchRecords queued: every queued record
 * outlives the young generation's collections, which copy it (measured, 1M-entry restore: pausing above 10,000
 * records a partition instead of 4,000 took 4.2–6.6 instead of 3.7–5.0 µs of CPU an entry, and up to 90 MB more RSS).
 */
const RESTORE_BACKLOG_FACTOR = 2;
/**
 * A partition's queued stream records are bounded by bytes too: 5 × maxBatchRecords records of up to 1 MB each would
 * be 10 GB. Fetching pauses past 64 MB and resumes below 16 MB (and the record bound).
 */
const MAX_BACKLOG_BYTES = 64 << 20;

/**
 * Runs the topology's tasks on this instance: one group consumer with the co-partitioning assignor feeds
 * per-partition tasks; each task restores its stores, then processes and commits on its own (see PartitionTask).
 * Emits 'error' when a task fails for good; the caller decides (default policy: stop and exit non-zero).
 */
export class Engine<Deps = unknown> extends EventEmitter {
  private consumer?: Consumer;
  private readonly tasks = new Map<number, PartitionTask>();
  private readonly paused = new Set<number>();
  /** `${changelog}:${partition}` paused while restoring. */
  private readonly restorePaused = new Set<string>();
  private readonly inputTopics: string[];
  private readonly changelogTopics: string[];
  private readonly tableTopics: string[];
  private readonly streamTopics: string[];
  /** The tables' end offsets for the barriers: from this instance's fetches, else looked up (`endOffsets`). */
  private readonly barrierEnds: FetchedEndOffsets;
  /** "topic:partition" of every table partition assigned here: what a fetch's end offsets must cover to answer a barrier. */
  private tablePartitions: string[] = [];
  private readonly endOffsets: EndOffsetReader;
  readonly metrics: EngineMetrics = { committedTransactions: 0, processedRecords: 0, deadLettered: 0, held: 0, unconfirmed: 0, assignedPartitions: [], counters: Object.fromEntries(ZERO_COUNTERS.map((k) => [k, 0])), histograms: {}, gauges: {} };
  /** The input topics' end offsets for the lag gauges, read every LAG_ENDS_EVERY_MS by a reader of their own. */
  private readonly lagEnds: EndOffsetReader;
  private lastEnds = { at: -Infinity, ends: new Map<string, bigint>(), reading: false };
  private gaugeTimer?: NodeJS.Timeout;
  private stopping = false;
  /** Set while the consumer leaves and rejoins the group (see rejoin). */
  private rejoining?: Promise<void>;
  private runConsumer?: () => Promise<void>;
  /** Each topic's max.message.bytes, read at start: no output may exceed its topic's. */
  private maxMessageBytes = new Map<string, number>();

  constructor(private readonly o: EngineOptions<Deps>) {
    super();
    const { graph } = o.topology;
    const physical = (logicals: string[]) => logicals.map((l) => o.topology.topic(l).name);
    this.inputTopics = physical(graph.inputs());
    this.tableTopics = physical(graph.inputs('table'));
    this.streamTopics = physical(graph.inputs('stream'));
    this.changelogTopics = physical([...graph.stores.values()].map((s) => s.changelog));
    this.endOffsets = new EndOffsetReader(o.kafka, this.tableTopics);
    this.lagEnds = new EndOffsetReader(o.kafka, this.inputTopics);
    const lookUp = new EndOffsetsProbe(() => this.endOffsets.read(), Math.max(2000, 4 * o.consentWaitMs));
    this.barrierEnds = new FetchedEndOffsets(lookUp, FETCH_GRACE_MS, () => this.tablePartitions);
  }

  get groupId(): string {
    return this.o.topology.applicationId;
  }

  async start(): Promise<void> {
    this.maxMessageBytes = await topicMaxMessageBytes(this.o.admin, [...this.o.topology.topics.values()].map((t) => t.name));
    const consumer = this.o.kafka.consumer({
      groupId: this.groupId,
      partitionAssigners: [coPartitionedAssigner()],
      sessionTimeout: this.o.sessionTimeoutMs ?? 10_000,
      heartbeatInterval: 1000,
      readUncommitted: false,
      // A fetch is answered as soon as any of its partitions has data: the wait costs no latency, it only spaces the
      // fetches of an idle instance. (Measured: two idle consumers fetching every 10 ms took a quarter of the broker's
      // core on a 2-core machine; every 100 ms, 4%.)
      maxWaitTimeInMs: 100,
      // Smaller than kafkajs' 10 MB: a fetch is decoded into objects all at once, and a restore fetching 10 MB at a
      // time peaked ~60 MB higher (measured: 1M-entry restore, same rate); a task takes ≤ maxBatchRecords a cycle anyway.
      maxBytes: 2 << 20,
      maxBytesPerPartition: 512 << 10,
    });
    this.consumer = consumer;
    consumer.on(consumer.events.GROUP_JOIN, (e) => this.onAssignment(e.payload.memberAssignment));
    consumer.on(consumer.events.END_BATCH_PROCESS, (e) => {
      this.tasks.get(e.payload.partition)?.advance(e.payload.topic, BigInt(e.payload.lastOffset) + 1n);
    });
    consumer.on(PARTITIONS_FETCHED as typeof consumer.events.FETCH, (e) => this.onFetched(e.payload as unknown as FetchedEnds));
    consumer.on(consumer.events.CRASH, (e) => {
      if (this.stopping) return;
      const fields = { err: e.payload.error?.message, restart: e.payload.restart };
      // A retriable crash (e.g. the group coordinator still loading on a fresh broker) restarts the consumer by itself.
      if (e.payload.restart) this.o.logger.warn(fields, 'consumer restarting after a retriable error');
      else this.o.logger.error(fields, 'consumer crashed');
    });
    await consumer.connect();
    await consumer.subscribe({ topics: [...this.inputTopics, ...this.changelogTopics], fromBeginning: true });
    this.runConsumer = () => consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: true,
      partitionsConsumedConcurrently: 1,
      eachBatch: async ({ batch }) => {
        const task = this.tasks.get(batch.partition);
        if (!task) return;
        task.enqueue(batch.topic, batch.messages.map((m) => toInRecord(batch.topic, batch.partition, m)));
        this.applyBackPressure(task);
      },
    });
    await this.runConsumer();
    this.gaugeTimer = setInterval(() => this.sampleGauges(), GAUGES_EVERY_MS).unref();
  }

  /** A fetch's last stable offsets of the table partitions, for the barriers (a partition without one is not reported). */
  private onFetched({ sentAt, partitions }: FetchedEnds): void {
    const ends = new Map<string, bigint>();
    for (const { topic, partition, lastStableOffset } of partitions) {
      if (lastStableOffset !== undefined && lastStableOffset !== '-1' && this.tableTopics.includes(topic)) ends.set(`${topic}:${partition}`, BigInt(lastStableOffset));
    }
    if (ends.size) this.barrierEnds.observe(sentAt, ends);
  }

  /** Refreshes `metrics.gauges` from the tasks, and the end offsets behind the lag when they are due. */
  private sampleGauges(): void {
    const e = this.lastEnds;
    if (!e.reading && monotonicNow() - e.at >= LAG_ENDS_EVERY_MS) {
      e.reading = true;
      this.lagEnds.read().then((ends) => Object.assign(e, { ends, at: monotonicNow() }), () => {}).finally(() => { e.reading = false; });
    }
    const gauges: Record<string, number> = { [series('consentgate_held_records')]: this.heldRecords };
    for (const task of this.tasks.values()) task.gauges(e.ends, gauges);
    this.metrics.gauges = gauges;
  }

  /**
   * Leaves the group and joins it again: the way back for a task fenced while this instance still owns its
   * partition (an earlier owner's start that was still opening its producer when the partition was revoked from
   * it). Joining again makes the consumer fetch every partition from its committed offsets, so the partition's new
   * task gets its records from where the fenced one's last transaction left them; kept tasks skip re-deliveries.
   */
  private rejoin(): Promise<void> {
    this.rejoining ??= (async () => {
      try {
        await this.consumer?.stop();
        if (!this.stopping) await this.runConsumer?.();
      } catch (err) {
        this.rejoining = undefined;
        this.o.logger.error({ err: (err as Error).message }, 'rejoining the group failed');
        this.emit('error', err);
        return;
      }
      this.rejoining = undefined;
      // A task fenced after the new assignment had made its tasks left its partition without one: once more.
      if (!this.stopping && this.metrics.assignedPartitions.some((p) => !this.tasks.has(p))) void this.rejoin();
    })();
    return this.rejoining;
  }

  private applyBackPressure(task: PartitionTask): void {
    const p = task.partition;
    // While restoring, each changelog too (a changelog fetched far ahead of what was applied only holds memory); each
    // on its own queue, so one waiting for its turn never stops the one being restored.
    for (const [topic, queued] of task.restoreBacklog ?? []) {
      const key = `${topic}:${p}`;
      if (!this.restorePaused.has(key) && queued > this.o.maxBatchRecords * RESTORE_BACKLOG_FACTOR) {
        this.restorePaused.add(key);
        this.consumer?.pause([{ topic, partitions: [p] }]);
      } else if (this.restorePaused.has(key) && queued <= this.o.maxBatchRecords) {
        this.restorePaused.delete(key);
        this.consumer?.resume([{ topic, partitions: [p] }]);
      }
    }
    const backlog = task.streamBacklog;
    const bytes = task.streamBacklogBytes;
    const topics = this.streamTopics;
    if (!this.paused.has(p) && (backlog > this.o.maxBatchRecords * MAX_BACKLOG_FACTOR || bytes > MAX_BACKLOG_BYTES)) {
      this.paused.add(p);
      this.consumer?.pause(topics.map((topic) => ({ topic, partitions: [p] })));
    } else if (this.paused.has(p) && backlog <= this.o.maxBatchRecords && bytes <= MAX_BACKLOG_BYTES / 4) {
      this.paused.delete(p);
      this.consumer?.resume(topics.map((topic) => ({ topic, partitions: [p] })));
    }
  }

  private onAssignment(assignment: Record<string, number[]>): void {
    const partitions = new Set(assignment[this.tableTopics[0] ?? this.inputTopics[0]!] ?? []);
    this.metrics.assignedPartitions = [...partitions].sort((a, b) => a - b);
    this.tablePartitions = this.tableTopics.flatMap((t) => this.metrics.assignedPartitions.map((p) => `${t}:${p}`));
    this.o.logger.info({ partitions: this.metrics.assignedPartitions }, 'partitions assigned');
    for (const [p, task] of this.tasks) {
      if (partitions.has(p)) continue;
      this.tasks.delete(p);
      this.paused.delete(p);
      for (const topic of this.changelogTopics) this.restorePaused.delete(`${topic}:${p}`);
      void task.close();
    }
    // kafkajs forgets its pauses when its consumer restarts (after a crash, or a rejoin): say again what is paused.
    for (const [p, task] of this.tasks) {
      const paused = [...this.changelogTopics.filter((t) => task.isRunning || this.restorePaused.has(`${t}:${p}`)), ...(this.paused.has(p) ? this.streamTopics : [])];
      if (paused.length) this.consumer?.pause(paused.map((topic) => ({ topic, partitions: [p] })));
    }
    for (const p of partitions) if (!this.tasks.has(p)) this.createTask(p);
  }

  private createTask(p: number): void {
    const task = new PartitionTask({
      ...wireTask(this.o.topology.graph.instantiate(this.o.deps, this.o.serdes), this.o.topology, this.o.serdes),
      partition: p,
      groupId: this.groupId,
      endOffsets: this.barrierEnds,
      clock: this.o.clock,
      logger: this.o.logger,
      consentWaitMs: this.o.consentWaitMs,
      maxHoldMs: this.o.maxHoldMs,
      commitIntervalMs: this.o.commitIntervalMs,
      maxBatchRecords: this.o.maxBatchRecords,
      lagCause: this.o.lagCause,
      maxRecordBytes: (topic) => this.maxMessageBytes.get(topic) ?? DEFAULT_MAX_MESSAGE_BYTES,
      onCommitted: (s) => {
        this.metrics.committedTransactions++;
        this.metrics.processedRecords += s.records;
        this.metrics.deadLettered += s.deadLettered;
        this.metrics.held += s.held;
        this.metrics.unconfirmed += s.unconfirmed;
        for (const [k, n] of s.counters) this.metrics.counters[k] = (this.metrics.counters[k] ?? 0) + n;
        for (const [k, values] of s.observations) {
          const h = (this.metrics.histograms[k] ??= emptyHistogram());
          for (const ms of values) observe(h, ms);
        }
        this.applyBackPressure(task);
      },
      onTransactionFailed: (result) => {
        const key = series('consentgate_transactions_total', { result });
        this.metrics.counters[key] = (this.metrics.counters[key] ?? 0) + 1;
      },
      onRestored: () => this.setChangelogsFetching(p, false),
      onRestoreProgress: () => this.applyBackPressure(task),
      onFailed: (err) => this.onTaskFailed(p, task, err),
    });
    this.tasks.set(p, task);
    this.setChangelogsFetching(p, true);
    void task
      .start(
        () => TaskProducer.open(this.o.kafka, `${this.o.topology.applicationId}-${p}`, Math.min(...this.maxMessageBytes.values())),
        () => this.startOffsets(p),
      )
      .catch((err) => this.onTaskFailed(p, task, err as Error));
  }

  /** Fetches partition p of every changelog (a task restoring) or none (its task runs and is their writer). */
  private setChangelogsFetching(p: number, fetching: boolean): void {
    for (const topic of this.changelogTopics) this.restorePaused.delete(`${topic}:${p}`);
    const partitions = this.changelogTopics.map((topic) => ({ topic, partitions: [p] }));
    if (fetching) this.consumer?.resume(partitions);
    else this.consumer?.pause(partitions);
  }

  /** The task's committed input offsets and its changelogs' offsets, asked for all at once. */
  private async startOffsets(p: number) {
    const [committed, ...changelogs] = await Promise.all([
      committedOffsets(this.o.admin, this.groupId, this.inputTopics),
      ...this.changelogTopics.map((t) => topicOffsets(this.o.admin, t)),
    ]);
    const inputs = new Map<string, bigint>();
    for (const t of this.inputTopics) {
      const c = committed.get(`${t}:${p}`);
      if (c !== undefined) inputs.set(t, c);
    }
    const changelogEnds = new Map<string, bigint>();
    const changelogStarts = new Map<string, bigint>();
    this.changelogTopics.forEach((t, i) => {
      const o = changelogs[i]!.get(p);
      changelogEnds.set(t, o?.high ?? 0n);
      changelogStarts.set(t, o?.low ?? 0n);
    });
    return { inputs, changelogEnds, changelogStarts };
  }

  private onTaskFailed(p: number, task: PartitionTask, err: Error): void {
    if (this.tasks.get(p) === task) this.tasks.delete(p);
    void task.close();
    if (this.stopping) return;
    const code = (err as { code?: string }).code;
    if (code === 'PRODUCER_FENCED') {
      if (!this.metrics.assignedPartitions.includes(p)) {
        this.o.logger.warn({ partition: p }, 'task fenced by a newer owner; dropped');
        return;
      }
      this.o.logger.warn({ partition: p }, 'task fenced while this instance owns its partition (an earlier owner opened late); rejoining the group');
      void this.rejoin();
      return;
    }
    this.o.logger.error({ partition: p, code, err: err.message }, 'task failed');
    this.emit('error', err);
  }

  /** Stops fetching, lets each task finish its current transaction, and leaves the group. */
  async stop(): Promise<void> {
    this.stopping = true;
    await this.rejoining;
    await this.consumer?.stop().catch(() => {});
    await Promise.all([...this.tasks.values()].map((t) => t.close()));
    this.tasks.clear();
    await this.consumer?.disconnect().catch(() => {});
    clearInterval(this.gaugeTimer);
    this.barrierEnds.close();
    await Promise.all([this.endOffsets.close(), this.lagEnds.close()]);
  }

  /** Stream records held right now, over all tasks. */
  get heldRecords(): number {
    let n = 0;
    for (const t of this.tasks.values()) n += t.heldRecords;
    return n;
  }

  /** True once every assigned task has restored and runs. */
  get ready(): boolean {
    return this.tasks.size > 0 && [...this.tasks.values()].every((t) => t.isRunning);
  }
}
