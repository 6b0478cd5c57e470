// An in-memory driver for one PartitionTask of the consentgate topology, in the spirit of Kafka Streams'
// TopologyTestDriver: the real processors, stores, serdes (Avro, Confluent wire format, locally numbered schema ids)
// and task loop; in-memory topic logs, a transactional producer that appends committed transactions to them, a
// controllable end-offset source and a manual clock. Tests run in milliseconds.
import { randomBytes, randomUUID } from 'node:crypto';
import avro from 'avsc';
import { resolve } from 'node:path';
import { createFieldTransforms } from '../../src/adapters/fieldCrypto.ts';
import { localSerdes } from '../../src/adapters/schemaRegistry.ts';
import { shredSeal } from '../../src/adapters/shredding.ts';
import { PROJECT_ROOT } from '../../src/app.ts';
import { ConfigSchema } from '../../src/config.ts';
import type { Clock } from '../../src/domain/clock.ts';
import type { ConsentEvent, ConversationRecord, DataKey, Decision, Purpose } from '../../src/domain/types.ts';
import { ConsentgateError } from '../../src/errors.ts';
import { wireTask } from '../../src/runtime/blueprint.ts';
import { EndOffsetsProbe, FetchedEndOffsets, monotonicNow, type EndOffsetsSource } from '../../src/runtime/endOffsets.ts';
import type { InRecord, OutRecord, RuntimeLogger, SerdeRegistry, TopicPartitionOffset, TransactionalProducer } from '../../src/runtime/records.ts';
import { PartitionTask, type CycleStats } from '../../src/runtime/task.ts';
import { loadPolicy, parsePolicy, loadVendors, type Topology } from '../../src/runtime/topology.ts';
import { loadTopology, replayTopology, type ConsentgateDeps, type ReplayGraphDeps } from '../../src/topology.ts';
import { conversation } from '../harness/pipeline.ts';

export class ManualClock implements Clock {
  constructor(public t = Date.UTC(2026, 10, 30, 9)) {}
  now(): number {
    return this.t;
  }
  advance(ms: number): void {
    this.t += ms;
  }
}

/** How the end-offset source answers: at once, after a delay, never, or with an error. */
export type EndOffsetsMode = { kind: 'ok' } | { kind: 'slow'; ms: number } | { kind: 'hang' } | { kind: 'fail' };

/** Commits append to the driver's logs; `failures` makes the next commits throw, in order; `delayMs` slows them. */
class MemoryProducer implements TransactionalProducer {
  readonly transactions: { records: OutRecord[]; offsets: TopicPartitionOffset[] }[] = [];
  readonly failures: ConsentgateError[] = [];
  attempts = 0;
  delayMs = 0;
  closes = 0;
  /** A record the broker refuses (as MESSAGE_TOO_LARGE): any transaction holding one fails, not retriably. */
  refuses?: (r: OutRecord) => boolean;
  constructor(private readonly append: (records: OutRecord[]) => void) {}
  async commit(records: OutRecord[], _groupId: string, offsets: TopicPartitionOffset[]): Promise<void> {
    this.attempts++;
    await (this.delayMs ? new Promise((r) => setTimeout(r, this.delayMs)) : Promise.resolve());
    const failure = this.failures.shift();
    if (failure) throw failure;
    if (this.refuses && records.some(this.refuses)) throw new ConsentgateError('RECORD_REJECTED', 'the broker refused a record of the transaction (MESSAGE_TOO_LARGE)');
    this.transactions.push({ records: [...records], offsets });
    this.append(records);
  }
  async close(): Promise<void> {
    this.closes++;
  }
}

const silent: RuntimeLogger = { debug() {}, info() {}, warn() {}, error() {} };

export interface DriverOptions {
  consentWaitMs?: number;
  maxHoldMs?: number;
  maxBatchRecords?: number;
  /** The least time between two transactions' starts (the engine's commitIntervalMs; default 0 here). */
  commitIntervalMs?: number;
  /** How long an end-offset request may take before it counts as failed (the engine uses max(2 s, 4 × wait)). */
  endOffsetsTimeoutMs?: number;
  /**
   * End offsets as the engine gets them: from fetches (`fetched()`), with the look-up only for a barrier no fetch
   * answered within `graceMs`. Without it, every barrier looks them up.
   */
  fetchedEnds?: { graceMs: number };
  /** max.message.bytes of some topics (logical names); the others take the broker's default. */
  maxMessageBytes?: Record<string, number>;
  /** Drive the replay topology of `consentgate replay` instead of the live one (its policy, cutovers, old forwards). */
  replay?: Pick<ReplayGraphDeps, 'policy' | 'previous' | 'cutover' | 'forwardedBefore'>;
}

/** Drives the task of partition 0 of the consentgate topology. Topic arguments are logical names. */
export class TopologyDriver {
  readonly clock = new ManualClock();
  readonly topology: Topology<ConsentgateDeps> | Topology<ReplayGraphDeps>;
  readonly serdes: SerdeRegistry;
  /** Every record of partition 0 per physical topic: piped inputs and committed outputs. */
  private readonly logs = new Map<string, InRecord[]>();
  /** Piped but not yet fetched by the task (a consumer that has not caught up). */
  private readonly undelivered = new Map<string, InRecord[]>();
  readonly producer = new MemoryProducer((records) => records.forEach((r) => this.append(r)));
  endOffsets: EndOffsetsMode = { kind: 'ok' };
  endOffsetRequests = 0;
  /** While true, fetching a writer schema fails as a refused connection does. */
  registryDown = false;
  private readonly writerSchemas = new Map<number, avro.Type>();
  /** Called when the enforcement asks the key store for a batch's keys (before it decides that batch). */
  onEnsureKeys?: () => void;
  readonly stats: CycleStats[] = [];
  failed?: Error;
  task!: PartitionTask;
  private readonly newTask: () => PartitionTask;
  private fetchedEnds?: FetchedEndOffsets;

  constructor(readonly o: DriverOptions = {}) {
    const defaults = ConfigSchema.shape;
    const live = loadTopology(resolve(PROJECT_ROOT, defaults.topologyFile.parse(undefined)));
    this.topology = o.replay ? replayTopology(live, o.replay.policy.generation) : live;
    const policy = loadPolicy(resolve(PROJECT_ROOT, defaults.policyFile.parse(undefined)), live);
    const vendors = loadVendors(resolve(PROJECT_ROOT, defaults.vendorsFile.parse(undefined)), live);
    // The registry as the serdes see it: writer schemas registered by `pipeWriter`, or down (connection refused).
    this.serdes = localSerdes(resolve(PROJECT_ROOT, 'schemas'), this.topology, async (id) => {
      if (this.registryDown) throw Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:8081'), { status: 400 });
      const t = this.writerSchemas.get(id);
      if (!t) throw Object.assign(new Error(`Schema ${id} not found`), { status: 404 });
      return t;
    });
    const keys = new Map<string, DataKey>();
    const deps: ConsentgateDeps = {
      policy, vendors, sessionDisconnectAfterMs: 30_000,
      parsePolicy: (text, where) => parsePolicy(text, where, live),
      transforms: createFieldTransforms('a1'.repeat(32)),
      shredKeys: {
        ensureKeys: async (requests: { customerId: string; purpose: Purpose }[]) => {
          this.onEnsureKeys?.();
          const out = new Map<string, DataKey | 'destroyed'>();
          for (const r of requests) {
            const slot = `${r.customerId}/${r.purpose}`;
            if (!keys.has(slot)) keys.set(slot, { keyId: `${slot}/${randomUUID()}`, key: randomBytes(32) });
            out.set(slot, keys.get(slot)!);
          }
          return out;
        },
        seal: shredSeal,
      },
    };
    const probeFetch = async () => {
      this.endOffsetRequests++;
      const mode = this.endOffsets;
      if (mode.kind === 'fail') throw new Error('end offsets unavailable');
      if (mode.kind === 'hang') return new Promise<Map<string, bigint>>(() => {});
      if (mode.kind === 'slow') await new Promise((r) => setTimeout(r, mode.ms));
      const tables = this.topology.graph.inputs('table').map((l) => this.name(l));
      return this.tableEnds();
    };
    this.newTask = () => {
      let endOffsets: EndOffsetsSource = new EndOffsetsProbe(probeFetch, this.o.endOffsetsTimeoutMs ?? 1000);
      if (this.o.fetchedEnds) endOffsets = this.fetchedEnds = new FetchedEndOffsets(endOffsets, this.o.fetchedEnds.graceMs, () => this.tableEnds().keys());
      const consentWaitMs = this.o.consentWaitMs ?? 20;
      const task: PartitionTask = new PartitionTask({
        ...wireTask(this.topology.graph.instantiate(o.replay ? { ...deps, ...o.replay, replayId: 'replay-test' } as never : deps as never, this.serdes), this.topology, this.serdes),
        partition: 0,
        groupId: this.topology.applicationId,
        endOffsets,
        clock: this.clock,
        logger: silent,
        consentWaitMs,
        maxHoldMs: this.o.maxHoldMs ?? 60_000,
        maxBatchRecords: this.o.maxBatchRecords ?? 100,
        commitIntervalMs: this.o.commitIntervalMs,
        lagCause: o.replay ? 'replay' : undefined,
        registryRetryMs: 20,
        maxRecordBytes: (topic) => Object.entries(this.o.maxMessageBytes ?? {}).find(([logical]) => this.name(logical) === topic)?.[1] ?? 1_048_588,
        onCommitted: (s) => this.stats.push(s),
        onRestored: () => {},
        onRestoreProgress: () => {},
        onFailed: (err) => {
          this.failed = err;
        },
      });
      return task;
    };
  }

  /** Each table topic's end offset now ("topic:0" → the length of its log, fetched or not). */
  private tableEnds(): Map<string, bigint> {
    const tables = this.topology.graph.inputs('table').map((l) => this.name(l));
    return new Map(tables.map((t) => [`${t}:0`, BigInt(this.log(t).length)]));
  }

  /** A fetch sent now answers (with `fetchedEnds`): the table topics' end offsets as the broker would report them. */
  fetched(): void {
    this.fetchedEnds!.observe(monotonicNow(), this.tableEnds());
  }

  name(logical: string): string {
    return this.topology.topic(logical).name;
  }

  private log(topic: string): InRecord[] {
    let l = this.logs.get(topic);
    if (!l) this.logs.set(topic, (l = []));
    return l;
  }

  private append(r: OutRecord): InRecord {
    const log = this.log(r.topic);
    const headers = Object.fromEntries(Object.entries(r.headers ?? {}).map(([k, v]) => [k, Buffer.from(v)]));
    const rec: InRecord = { topic: r.topic, partition: 0, offset: String(log.length), timestamp: String(this.clock.now()), key: r.key === null ? null : Buffer.from(r.key), value: r.value, headers };
    log.push(rec);
    return rec;
  }

  /** How many times a task asked where to start (committed offsets, changelog ends). */
  startOffsetRequests = 0;

  /**
   * Starts (or, after `stop`, restarts as the next owner) the task: restore, then committed offsets onwards.
   * `opened` is awaited before the task gets its producer (a coordinator slow to fence the previous owner).
   */
  async start(opened?: Promise<void>): Promise<void> {
    this.failed = undefined;
    this.task = this.newTask();
    const committed = new Map<string, bigint>();
    for (const t of this.producer.transactions) for (const o of t.offsets) committed.set(o.topic, BigInt(o.offset));
    const changelogs = [...this.topology.graph.stores.values()].map((s) => this.name(s.changelog));
    await this.task.start(async () => {
      await opened;
      return this.producer;
    }, async () => ({
      inputs: (this.startOffsetRequests++, committed),
      changelogEnds: new Map(changelogs.map((t) => [t, BigInt(this.log(t).length)])),
      changelogStarts: new Map(changelogs.map((t) => [t, 0n])),
    }));
    for (const t of changelogs) this.task.enqueue(t, [...this.log(t)]);
    for (const t of changelogs) this.task.advance(t, BigInt(this.log(t).length));
    for (const [topic, log] of this.logs) {
      if (changelogs.includes(topic)) continue;
      const pending = this.undelivered.get(topic) ?? [];
      this.task.enqueue(topic, log.filter((r) => !pending.includes(r)));
    }
  }

  async stop(): Promise<void> {
    this.fetchedEnds?.close();
    await this.task.close();
  }

  /** Appends a record to an input topic; the task fetches it at once unless `deliver` is false (or an earlier record waits). */
  pipe(logical: string, key: string | null, value: unknown | Buffer, opts: { deliver?: boolean } = {}): InRecord {
    const topic = this.name(logical);
    const bytes = Buffer.isBuffer(value) ? value : this.serdes.forTopic(logical).encode(value);
    const rec = this.append({ topic, key, value: bytes });
    if (opts.deliver === false || this.undelivered.has(topic)) this.undelivered.set(topic, [...(this.undelivered.get(topic) ?? []), rec]);
    else this.task?.enqueue(topic, [rec]);
    return rec;
  }

  /** Appends a control record (a cutover marker) to an input topic; the task fetches it at once. */
  control(logical: string, r: Pick<OutRecord, 'key' | 'value' | 'headers'>): InRecord {
    const rec = this.append({ ...r, topic: this.name(logical) });
    this.task?.enqueue(rec.topic, [rec]);
    return rec;
  }

  /** Decoded committed records of a physical topic, with a logical topic's serde (a later generation's sink topic). */
  async outputOf<T>(topic: string, serdeOf: string): Promise<T[]> {
    const serde = this.serdes.forTopic<T>(serdeOf);
    return Promise.all(this.log(topic).map((r) => serde.decode(r.value)));
  }

  /**
   * Appends a record written by another producer with writer schema `schema` under registry id `id` (registered
   * with this driver's registry when given, else an id the registry does not know).
   */
  pipeWriter(logical: string, key: string, value: unknown, id: number, schema?: avro.Type): InRecord {
    if (schema) this.writerSchemas.set(id, schema);
    const header = Buffer.alloc(5);
    header.writeInt32BE(id, 1);
    return this.pipe(logical, key, Buffer.concat([header, (schema ?? avro.Type.forValue(value as object)).toBuffer(value)]));
  }

  /** The task fetches what was piped with `deliver: false`. */
  deliver(logical: string): void {
    const topic = this.name(logical);
    const pending = this.undelivered.get(topic) ?? [];
    this.undelivered.delete(topic);
    this.task.enqueue(topic, pending);
  }

  consent(customerId: string, purposes: Partial<Record<Purpose, boolean>>, opts: { deliver?: boolean; capturedAt?: number } = {}): ConsentEvent {
    const e: ConsentEvent = {
      eventId: randomUUID(), customerId, capturedAt: opts.capturedAt ?? this.clock.now(), source: 'WEB',
      purposes: Object.entries(purposes).map(([purpose, granted]) => ({ purpose: purpose as Purpose, granted: granted!, channel: null })),
    };
    this.pipe('consent.events', customerId, e, opts);
    return e;
  }

  record(customerId: string, overrides: Partial<ConversationRecord> = {}): ConversationRecord {
    const r = conversation(customerId, { occurredAt: this.clock.now(), ...overrides });
    this.pipe('genesys.conversations', customerId, r);
    return r;
  }

  /** Committed records of a logical topic, as written (bytes). */
  raw(logical: string): InRecord[] {
    return [...this.log(this.name(logical))];
  }

  /** Decoded committed records of a logical output topic. */
  async output<T>(logical: string): Promise<T[]> {
    const serde = this.serdes.forTopic<T>(logical);
    return Promise.all(this.log(this.name(logical)).map((r) => serde.decode(r.value)));
  }

  decisions(): Promise<Decision[]> {
    return this.output<Decision>('audit.decisions');
  }

  /** The offset committed for a logical input topic (undefined before its first commit). */
  committedOffset(logical: string): bigint | undefined {
    let out: bigint | undefined;
    for (const t of this.producer.transactions) for (const o of t.offsets) if (o.topic === this.name(logical)) out = BigInt(o.offset);
    return out;
  }

  /** Resolves once `cond` holds, polling between event-loop turns; fails after `ms` of real time. */
  async until(what: string, cond: () => boolean | Promise<boolean>, ms = 2000): Promise<void> {
    const deadline = Date.now() + ms;
    while (!(await cond())) {
      if (this.failed) throw new Error(`task failed while waiting for ${what}: ${this.failed.message}`);
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 1));
    }
  }

  /** Resolves once every piped and delivered record of the input topic is committed. */
  drained(logical: string): Promise<void> {
    const topic = this.name(logical);
    return this.until(`${logical} committed`, () => this.committedOffset(logical) === BigInt(this.log(topic).length - (this.undelivered.get(topic)?.length ?? 0)));
  }

  get held(): number {
    return this.stats.reduce((n, s) => n + s.held, 0);
  }

  /** Every counter the committed transactions added, by series key. */
  get counters(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const s of this.stats) for (const [k, n] of s.counters) out[k] = (out[k] ?? 0) + n;
    return out;
  }

  /**
   * The task's gauges against end offsets at the end of each input log, plus `markers` (logical topic → commit
   * markers written after its last record, as a transactional producer leaves them), which the consumer has moved
   * past unless the topic has undelivered records.
   */
  gauges(markers: Record<string, number> = {}): Record<string, number> {
    const ends = new Map<string, bigint>();
    for (const [logical, n] of Object.entries(markers)) {
      const topic = this.name(logical);
      if (!this.undelivered.has(topic)) this.task.advance(topic, BigInt(this.log(topic).length + n));
    }
    for (const [topic, log] of this.logs) {
      const logical = [...this.topology.topics.values()].find((t) => t.name === topic)?.logical ?? topic;
      ends.set(`${topic}:0`, BigInt(log.length + (markers[logical] ?? 0)));
    }
    const out: Record<string, number> = {};
    this.task.gauges(ends, out);
    return out;
  }

  get unconfirmed(): number {
    return this.stats.reduce((n, s) => n + s.unconfirmed, 0);
  }
}

const running: TopologyDriver[] = [];

/** A started driver; `stopDrivers` (a test file's afterEach) stops every one started since. */
export async function started(o: DriverOptions = {}): Promise<TopologyDriver> {
  const d = new TopologyDriver(o);
  running.push(d);
  await d.start();
  return d;
}

export async function stopDrivers(): Promise<void> {
  for (const d of running.splice(0)) await d.stop();
}
