import './kafkajsPatches/index.ts'; // before kafkajs: see there
import { createRequire } from 'node:module';
import {
  AssignerProtocol,
  Kafka,
  Partitioners,
  logLevel as KafkaLogLevel,
  type Admin,
  type Consumer,
  type KafkaMessage,
  type LogEntry,
  type PartitionAssigner,
  type Producer,
  type ISocketFactory,
  type KafkaConfig,
  type SASLOptions,
} from 'kafkajs';
import { ConsentgateError } from '../errors.ts';
import type { Config } from '../config.ts';
import type { Logger } from './logger.ts';
import { tlsOptions } from './tls.ts';
import { recordBatchBytes, type InRecord, type OutRecord, type TopicPartitionOffset, type TransactionalProducer } from '../runtime/records.ts';

export type { InRecord, OutRecord, TopicPartitionOffset };

export interface TopicSpec {
  name: string;
  partitions: number;
  config: Record<string, string>;
}

function kafkaLogCreator(logger: Logger) {
  const log = logger.child({ component: 'kafkajs' });
  return () => ({ level, log: entry }: LogEntry) => {
    const { message, ...extra } = entry;
    const fields = { namespace: entry.namespace, error: extra.error, groupId: extra.groupId, topic: extra.topic };
    // kafkajs logs these retriable answers as errors although it retries them; they are routine after a commit.
    // So is a stale leader right after topic creation, a heartbeat answered during a rebalance (kafkajs re-joins),
    // the retry limit TaskProducer sets on purpose (a failed transaction is aborted, so the limit cannot break
    // exactly-once), and a fenced producer (the engine says so itself, at warn, with what it does about it).
    const routine = /concurrent operation on the same transaction|coordinator is not available|coordinator is loading|not the correct coordinator|not the leader for that topic-partition|group is rebalancing|Limiting retries for the idempotent producer|operation with an old epoch/i.test(`${message} ${String(extra.error ?? '')}`);
    if (routine) log.debug(fields, message);
    // A consumer restarted after a retriable crash recovers by itself; the crash, unless routine, is an error line.
    else if (message.startsWith('Restarting the consumer')) log.warn(fields, message);
    else if (level === KafkaLogLevel.ERROR) log.error(fields, message);
    else if (level === KafkaLogLevel.WARN) log.warn(fields, message);
    else if (level === KafkaLogLevel.INFO) log.debug(fields, message);
  };
}

/** Where and how to connect (brokers, TLS, SASL): the one place every client of the configuration takes them from. */
export function kafkaConnection(cfg: Config['kafka']): Pick<KafkaConfig, 'brokers' | 'ssl' | 'sasl'> {
  const ssl = cfg.ssl && (cfg.sslCaFile || cfg.sslCertFile) ? tlsOptions({ caFile: cfg.sslCaFile, certFile: cfg.sslCertFile, keyFile: cfg.sslKeyFile }) : cfg.ssl;
  return { brokers: cfg.brokers, ssl, ...(cfg.sasl ? { sasl: cfg.sasl as SASLOptions } : {}) };
}

export function createKafka(cfg: Config['kafka'], logger: Logger, clientId = cfg.clientId): Kafka {
  return new Kafka({
    clientId,
    ...kafkaConnection(cfg),
    logLevel: KafkaLogLevel.WARN,
    logCreator: kafkaLogCreator(logger),
    retry: { retries: 8, initialRetryTime: 100, maxRetryTime: 5000 },
    socketFactory: noDelaySocket,
  });
}

/**
 * kafkajs' own socket factory with Nagle's algorithm off, as the Java client has it (kafkajs leaves it on): a request
 * written while an earlier one's last segment is unacknowledged would wait for that ACK, which the broker may delay.
 * (On this machine's loopback the bench showed no difference either way.)
 */
const kafkajsSocket = (createRequire(import.meta.url)('kafkajs/src/network/socketFactory') as () => ISocketFactory)();
const noDelaySocket: ISocketFactory = (options) => kafkajsSocket(options).setNoDelay(true);

export function isFencedError(err: unknown): boolean {
  const e = err as { type?: string; name?: string; cause?: unknown; message?: string };
  return (
    e?.type === 'INVALID_PRODUCER_EPOCH' ||
    e?.type === 'PRODUCER_FENCED' ||
    e?.type === 'TRANSACTIONAL_ID_AUTHORIZATION_FAILED' ||
    (e?.cause !== undefined && isFencedError(e.cause))
  );
}

/** Broker errors about the records a request carries: retrying the same records can never succeed. */
const RECORD_ERRORS = new Set(['MESSAGE_TOO_LARGE', 'RECORD_LIST_TOO_LARGE', 'INVALID_RECORD', 'CORRUPT_MESSAGE', 'INVALID_TIMESTAMP']);

/** The broker's error type when `err` (or what it wraps) is one of RECORD_ERRORS. */
export function recordError(err: unknown): string | undefined {
  const e = err as { type?: string; cause?: unknown; originalError?: unknown; errors?: unknown[] } | undefined;
  if (!e) return undefined;
  if (e.type && RECORD_ERRORS.has(e.type)) return e.type;
  for (const inner of [e.cause, e.originalError, ...(Array.isArray(e.errors) ? e.errors : [])]) {
    const t = inner === undefined || inner === err ? undefined : recordError(inner);
    if (t) return t;
  }
  return undefined;
}

/** Creates missing topics and aligns the configs of existing ones; never changes partition counts. */
export async function applyTopics(admin: Admin, specs: TopicSpec[]): Promise<{ created: string[]; updated: string[] }> {
  const existing = new Set(await admin.listTopics());
  const toCreate = specs.filter((s) => !existing.has(s.name));
  if (toCreate.length) {
    await admin.createTopics({
      waitForLeaders: true,
      topics: toCreate.map((s) => ({
        topic: s.name,
        numPartitions: s.partitions,
        replicationFactor: -1,
        configEntries: Object.entries(s.config).map(([name, value]) => ({ name, value })),
      })),
    });
  }
  const toCheck = specs.filter((s) => existing.has(s.name));
  const updated: string[] = [];
  if (toCheck.length) {
    const meta = await admin.fetchTopicMetadata({ topics: toCheck.map((s) => s.name) });
    for (const t of meta.topics) {
      const spec = toCheck.find((s) => s.name === t.name)!;
      if (t.partitions.length !== spec.partitions) {
        throw new ConsentgateError('CONFIG_INVALID',
          `topic ${t.name} has ${t.partitions.length} partitions, the topology wants ${spec.partitions}: ` +
          `partition counts of keyed, co-partitioned topics are never changed automatically (it would move keys)`);
      }
    }
    const described = await admin.describeConfigs({
      includeSynonyms: false,
      resources: toCheck.map((s) => ({ type: 2, name: s.name, configNames: Object.keys(s.config) })),
    });
    for (const r of described.resources) {
      const spec = toCheck.find((s) => s.name === r.resourceName)!;
      const drift = Object.entries(spec.config).filter(([k, v]) => r.configEntries.find((e) => e.configName === k)?.configValue !== v);
      if (drift.length === 0) continue;
      await admin.alterConfigs({
        validateOnly: false,
        resources: [{ type: 2, name: spec.name, configEntries: Object.entries(spec.config).map(([name, value]) => ({ name, value })) }],
      });
      updated.push(spec.name);
    }
  }
  // Answer only once every new partition has a leader that serves offsets.
  for (const s of toCreate) await topicOffsets(admin, s.name);
  return { created: toCreate.map((s) => s.name), updated };
}

/**
 * Retries a metadata-sensitive admin call while the cluster settles (a topic just created, a leader moving):
 * kafkajs surfaces those retriable protocol errors once its own retries run out.
 */
export async function settled<T>(fn: () => Promise<T>, attempts = 30): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await fn();
    } catch (err) {
      const e = err as { retriable?: boolean; type?: string; name?: string };
      const retriable = e.retriable === true || e.name === 'KafkaJSNumberOfRetriesExceeded' || /LEADER|UNKNOWN_TOPIC|COORDINATOR/.test(e.type ?? '');
      if (!retriable || i >= attempts) throw err;
      await new Promise((r) => setTimeout(r, Math.min(1000, 50 * i)));
    }
  }
}

/** Low and high watermark per partition. */
export async function topicOffsets(admin: Admin, topic: string): Promise<Map<number, { low: bigint; high: bigint }>> {
  const offsets = await settled(() => admin.fetchTopicOffsets(topic));
  return new Map(offsets.map((o) => [o.partition, { low: BigInt(o.low), high: BigInt(o.high) }]));
}

/** kafkajs' cluster, as far as EndOffsetReader uses it (an internal: see there). */
interface KafkaCluster {
  connect(): Promise<void>;
  disconnect(): Promise<void>;
  addMultipleTargetTopics(topics: string[]): Promise<void>;
  refreshMetadata(): Promise<void>;
  refreshMetadataIfNecessary(): Promise<void>;
  findTopicPartitionMetadata(topic: string): { partitionId: number }[];
  fetchTopicsOffset(topics: { topic: string; fromBeginning: boolean; partitions: { partition: number }[] }[]): Promise<{ topic: string; partitions: { partition: number; offset: string }[] }[]>;
}

/** How long cluster metadata is trusted before it is read again (kafkajs' default for its producers and consumers). */
const METADATA_MAX_AGE_MS = 300_000;

/**
 * End offsets ("topic:partition" → last stable offset, what a read_committed consumer reaches) of every partition
 * of `topics`, in one ListOffsets request per leader. The barrier asks on every cycle, and kafkajs' public
 * `admin.fetchTopicOffsets` sends two requests per topic one after the other (latest, then earliest); no public
 * kafkajs call lists several topics' latest offsets at once, so this builds the cluster object kafkajs builds its
 * own admin from (kafkajs 2.2.4, its last release, is pinned by the lockfile).
 */
export class EndOffsetReader {
  private cluster?: Promise<KafkaCluster>;

  constructor(private readonly kafka: Kafka, private readonly topics: string[]) {}

  async read(): Promise<Map<string, bigint>> {
    const cluster = await (this.cluster ??= this.connect());
    const out = new Map<string, bigint>();
    const answer = await settled(async () => {
      try {
        await cluster.refreshMetadataIfNecessary();
        return await cluster.fetchTopicsOffset(this.topics.map((topic) => ({
          topic, fromBeginning: false, partitions: cluster.findTopicPartitionMetadata(topic).map((p) => ({ partition: p.partitionId })),
        })));
      } catch (err) {
        if (/LEADER|UNKNOWN_TOPIC/.test((err as { type?: string }).type ?? '')) await cluster.refreshMetadata().catch(() => {});
        throw err;
      }
    });
    for (const { topic, partitions } of answer) for (const p of partitions) out.set(`${topic}:${p.partition}`, BigInt(p.offset));
    return out;
  }

  async close(): Promise<void> {
    const cluster = await this.cluster?.catch(() => undefined);
    this.cluster = undefined;
    await cluster?.disconnect().catch(() => {});
  }

  private async connect(): Promise<KafkaCluster> {
    const create = Object.getOwnPropertySymbols(this.kafka).find((s) => s.description === 'private:Kafka:createCluster');
    if (!create) throw new Error('this kafkajs has no cluster factory (EndOffsetReader is written against kafkajs 2.2.4)');
    // kafkajs' clients default metadataMaxAge to 5 minutes; its cluster factory leaves it at 0, which made every read
    // a Metadata round trip before the ListOffsets one (measured: as many Metadata requests as barriers). Leaders that
    // move are learnt from the errors below.
    const cluster = (this.kafka as unknown as Record<symbol, (o: object) => KafkaCluster>)[create]!({ allowAutoTopicCreation: false, metadataMaxAge: METADATA_MAX_AGE_MS });
    try {
      await cluster.connect();
      await cluster.addMultipleTargetTopics(this.topics);
      return cluster;
    } catch (err) {
      this.cluster = undefined; // the next read tries again
      await cluster.disconnect().catch(() => {});
      throw err;
    }
  }
}

/** kafkajs' ConfigResourceTypes.TOPIC (the enum is not a named export Node's ESM loader finds in kafkajs' CommonJS). */
const TOPIC_RESOURCE = (createRequire(import.meta.url)('kafkajs') as { ConfigResourceTypes: { TOPIC: number } }).ConfigResourceTypes.TOPIC;

/** Each topic's max.message.bytes as the broker applies it (the topic's own setting, else the broker's default). */
export async function topicMaxMessageBytes(admin: Admin, topics: string[]): Promise<Map<string, number>> {
  const res = await settled(() => admin.describeConfigs({
    includeSynonyms: false,
    resources: topics.map((name) => ({ type: TOPIC_RESOURCE, name, configNames: ['max.message.bytes'] })),
  }));
  const out = new Map<string, number>();
  for (const r of res.resources) {
    const v = Number(r.configEntries.find((e) => e.configName === 'max.message.bytes')?.configValue);
    if (Number.isFinite(v) && v > 0) out.set(r.resourceName, v);
  }
  return out;
}

/** Committed offsets of a consumer group for the given topics (partitions with none are absent). */
export async function committedOffsets(admin: Admin, groupId: string, topics: string[]): Promise<Map<string, bigint>> {
  const res = await settled(() => admin.fetchOffsets({ groupId, topics }));
  const out = new Map<string, bigint>();
  for (const t of res) for (const p of t.partitions) if (p.offset !== '-1') out.set(`${t.topic}:${p.partition}`, BigInt(p.offset));
  return out;
}

/** Groups records by topic, in the shape kafkajs' sendBatch takes. */
function topicMessages(records: OutRecord[]) {
  const byTopic = new Map<string, OutRecord[]>();
  for (const r of records) {
    const list = byTopic.get(r.topic);
    if (list) list.push(r);
    else byTopic.set(r.topic, [r]);
  }
  return [...byTopic].map(([topic, rs]) => ({
    topic,
    messages: rs.map((r) => ({ key: r.key, value: r.value, partition: r.partition, headers: r.headers })),
  }));
}

/**
 * Default message.max.bytes is 1 MiB per record batch; stay well below it (and below the smallest max.message.bytes
 * of the topics written: a request's records for one partition form one batch).
 */
const MAX_REQUEST_BYTES = 512 * 1024;

/** Splits records into consecutive runs of at most `max` bytes, each run at least one record. */
function bySize(records: OutRecord[], max: number): OutRecord[][] {
  const out: OutRecord[][] = [];
  let run: OutRecord[] = [];
  let bytes = 0;
  for (const r of records) {
    const size = recordBatchBytes(r);
    if (run.length && bytes + size > max) {
      out.push(run);
      run = [];
      bytes = 0;
    }
    run.push(r);
    bytes += size;
  }
  if (run.length) out.push(run);
  return out;
}

/** Maps a fetched kafkajs message to an InRecord (headers as single Buffers). */
export function toInRecord(topic: string, partition: number, m: KafkaMessage): InRecord {
  const headers: Record<string, Buffer> = {};
  for (const k in m.headers) {
    const v = m.headers[k];
    const first = Array.isArray(v) ? v[0] : v;
    if (first !== undefined) headers[k] = Buffer.isBuffer(first) ? first : Buffer.from(String(first));
  }
  return { topic, partition, offset: m.offset, timestamp: m.timestamp, key: m.key ?? null, value: m.value ?? null, headers };
}

/**
 * One transactional producer per task: transactional id = application id + partition, so that the next owner of
 * the partition fences a zombie (kafkajs has no KIP-447 group-metadata fencing).
 */
export class TaskProducer implements TransactionalProducer {
  private constructor(private readonly producer: Producer, readonly transactionalId: string, private readonly maxRequestBytes: number) {}

  /**
   * Opens the producer and runs InitProducerId for its transactional id before returning: that completes or aborts
   * the previous owner's open transaction and fences it, so offsets read afterwards are final. kafkajs' connect()
   * does not do this (it sends InitProducerId only on the first transaction(); connect() would fetch a
   * non-transactional producer id when `idempotent` is set, so it is not: transactions are idempotent regardless).
   */
  static async open(kafka: Kafka, transactionalId: string, maxRequestBytes = MAX_REQUEST_BYTES): Promise<TaskProducer> {
    // Short retries for what the patch (kafkajsPatches/transactions.ts) does not retry itself.
    const producer = kafka.producer({
      // Produce requests stay one at a time all the same (kafkajs' per-broker lock of an idempotent producer); more than
      // one request in flight lets the offsets' requests travel beside them.
      transactionalId, maxInFlightRequests: 5, transactionTimeout: 60_000,
      createPartitioner: Partitioners.DefaultPartitioner,
      retry: { initialRetryTime: 5, maxRetryTime: 500, retries: 30 },
    });
    try {
      await producer.connect();
      await (await producer.transaction()).abort(); // InitProducerId; an empty transaction's abort sends nothing
    } catch (err) {
      await producer.disconnect().catch(() => {});
      throw err;
    }
    return new TaskProducer(producer, transactionalId, Math.min(MAX_REQUEST_BYTES, maxRequestBytes));
  }

  /** Writes records and input offsets in one transaction; on failure aborts and throws (PRODUCER_FENCED when fenced). */
  async commit(records: OutRecord[], groupId: string, offsets: TopicPartitionOffset[]): Promise<void> {
    const tx = await this.producer.transaction();
    try {
      // The records (AddPartitionsToTxn, Produce) and the offsets (AddOffsetsToTxn, TxnOffsetCommit) go side by side:
      // three round trips in a row with EndTxn instead of five. Several produce requests in one transaction, one
      // after the other: a request over the broker's message.max.bytes is refused.
      const produced = (async () => {
        for (const chunk of bySize(records, this.maxRequestBytes)) await tx.sendBatch({ topicMessages: topicMessages(chunk) });
      })();
      const topics = new Map<string, { partition: number; offset: string }[]>();
      for (const o of offsets) {
        const list = topics.get(o.topic) ?? [];
        list.push({ partition: o.partition, offset: o.offset });
        topics.set(o.topic, list);
      }
      const sentOffsets = offsets.length ? tx.sendOffsets({ consumerGroupId: groupId, topics: [...topics].map(([topic, partitions]) => ({ topic, partitions })) }) : undefined;
      // Both settle before the abort below, which must not overtake a request still in flight.
      const [a, b] = await Promise.allSettled([produced, sentOffsets]);
      if (a.status === 'rejected') throw a.reason;
      if (b.status === 'rejected') throw b.reason;
      await tx.commit();
    } catch (err) {
      await tx.abort().catch(() => {});
      if (isFencedError(err)) throw new ConsentgateError('PRODUCER_FENCED', `${this.transactionalId} was fenced by a newer owner`, false, { cause: err });
      const rejected = recordError(err);
      if (rejected) throw new ConsentgateError('RECORD_REJECTED', `the broker refused a record of the transaction (${rejected}): ${(err as Error).message}`, false, { cause: err });
      throw new ConsentgateError('TRANSACTION_FAILED', `transaction of ${this.transactionalId} failed: ${(err as Error).message}`, true, { cause: err });
    }
  }

  async close(): Promise<void> {
    await this.producer.disconnect().catch(() => {});
  }
}

/**
 * Assigns partition p of every subscribed topic to the same member (members sorted by id, p → member p mod n), so
 * a task sees its consent partition and its record partitions together.
 */
export function coPartitionedAssigner(): PartitionAssigner {
  return ({ cluster }) => ({
    name: 'consentgate-copartitioned',
    version: 1,
    protocol({ topics }) {
      return { name: 'consentgate-copartitioned', metadata: AssignerProtocol.MemberMetadata.encode({ version: 1, topics, userData: Buffer.alloc(0) }) };
    },
    async assign({ members, topics }) {
      const memberIds = members.map((m) => m.memberId).sort();
      const plan = new Map<string, Record<string, number[]>>(memberIds.map((id) => [id, {}]));
      for (const topic of topics) {
        const partitions = cluster.findTopicPartitionMetadata(topic).map((m) => m.partitionId).sort((a, b) => a - b);
        for (const p of partitions) {
          const member = plan.get(memberIds[p % memberIds.length]!)!;
          (member[topic] ??= []).push(p);
        }
      }
      return memberIds.map((memberId) => ({
        memberId,
        memberAssignment: AssignerProtocol.MemberAssignment.encode({ version: 1, assignment: plan.get(memberId)!, userData: Buffer.alloc(0) }),
      }));
    },
  });
}

// kafkajs for the rest of consentgate, only from here: its patches must be in place before it loads.
export type { Admin, Consumer };
export { PARTITIONS_FETCHED, type FetchedEnds } from './kafkajsPatches/fetch.ts';
export { Kafka, KafkaLogLevel as logLevel, Partitioners };

/** A plain idempotent producer (acks=all) for sources, the demo and tests. */
export async function openProducer(kafka: Kafka): Promise<{ send(records: OutRecord[]): Promise<void>; close(): Promise<void> }> {
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 5, createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  return {
    async send(records) {
      for (const chunk of bySize(records, MAX_REQUEST_BYTES)) await producer.sendBatch({ acks: -1, topicMessages: topicMessages(chunk) });
    },
    close: () => producer.disconnect(),
  };
}

/**
 * An at-least-once consumer for connectors: `handle` gets each fetched batch in offset order; its offsets are
 * committed only after it resolves, so a crash replays what was not fully handled (handlers are idempotent). A
 * handler that waits long calls `heartbeat` so the group does not evict it. With `startAt`, a handler that keeps
 * its own offsets (in a database, with what it wrote) says where each newly assigned partition resumes: the
 * consumer seeks there once per assignment, so the group's committed offsets (kept for lag dashboards) are only
 * a hint.
 */
export async function consumeBatches(kafka: Kafka, o: {
  groupId: string;
  topic: string | string[];
  fromBeginning?: boolean;
  startAt?(topic: string, partition: number): Promise<bigint | undefined>;
  handle(records: InRecord[], heartbeat: () => Promise<void>): Promise<void>;
}): Promise<{ stop(): Promise<void> }> {
  const consumer = kafka.consumer({ groupId: o.groupId, readUncommitted: false, maxWaitTimeInMs: 200 });
  const positioned = new Set<string>();
  consumer.on(consumer.events.GROUP_JOIN, () => positioned.clear());
  await consumer.connect();
  await consumer.subscribe({ topics: Array.isArray(o.topic) ? o.topic : [o.topic], fromBeginning: o.fromBeginning ?? true });
  await consumer.run({
    autoCommit: false,
    eachBatchAutoResolve: false,
    eachBatch: async ({ batch, resolveOffset, commitOffsetsIfNecessary, heartbeat, isRunning, isStale }) => {
      if (!isRunning() || isStale() || batch.messages.length === 0) return;
      const tp = `${batch.topic}:${batch.partition}`;
      if (o.startAt && !positioned.has(tp)) {
        positioned.add(tp);
        const at = await o.startAt(batch.topic, batch.partition);
        if (at !== undefined && BigInt(batch.firstOffset() ?? batch.messages[0]!.offset) !== at) {
          consumer.seek({ topic: batch.topic, partition: batch.partition, offset: at.toString() });
          return;
        }
      }
      await o.handle(batch.messages.map((m) => toInRecord(batch.topic, batch.partition, m)), heartbeat);
      resolveOffset(batch.lastOffset());
      await consumer.commitOffsets([{ topic: batch.topic, partition: batch.partition, offset: (BigInt(batch.lastOffset()) + 1n).toString() }]);
      await commitOffsetsIfNecessary();
    },
  });
  return { stop: () => consumer.disconnect() };
}
