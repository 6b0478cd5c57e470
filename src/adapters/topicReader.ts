import type { Admin, Kafka } from 'kafkajs';
import { randomUUID } from 'node:crypto';
import { ConsentgateError } from '../errors.ts';
import { settled, toInRecord, topicOffsets, type InRecord } from './kafka.ts';

/** Per partition, an offset. */
export type PartitionOffsets = Map<number, bigint>;

/**
 * Whether `topic` exists; a missing topic is an error (CONFIG_INVALID) unless `missingOk`. kafkajs retries a topic it
 * does not know for as long as it is asked to: readers find out first.
 */
async function topicExists(admin: Admin, topic: string, missingOk = false): Promise<boolean> {
  if ((await settled(() => admin.listTopics())).includes(topic)) return true;
  if (missingOk) return false;
  throw new ConsentgateError('CONFIG_INVALID', `topic ${topic} does not exist (consentgate topics apply creates the topology's topics)`);
}

/**
 * Reads the committed records of `topic` (read_committed, a throwaway consumer group) from `from` (default: each
 * partition's start) up to `until` (default: the end offsets observed at the start), handing them over batch by
 * batch in offset order per partition. Resolves with the number of records handed over; a topic that does not
 * exist is an error (CONFIG_INVALID), or nothing to read with `missingOk`.
 */
export async function scanTopic(kafka: Kafka, topic: string, handle: (records: InRecord[]) => void | Promise<void>, opts: { from?: PartitionOffsets; until?: PartitionOffsets; timeoutMs?: number; missingOk?: boolean } = {}): Promise<number> {
  const admin = kafka.admin();
  await admin.connect();
  const groupId = `consentgate-reader-${randomUUID()}`;
  let remaining: Set<number>;
  let ends: PartitionOffsets;
  try {
    if (!(await topicExists(admin, topic, opts.missingOk))) return 0;
    const offsets = await topicOffsets(admin, topic);
    ends = opts.until ?? new Map([...offsets].map(([p, o]) => [p, o.high]));
    const starts = new Map([...offsets].map(([p, o]) => [p, opts.from?.get(p) ?? o.low]));
    remaining = new Set([...ends].filter(([p, end]) => end > (starts.get(p) ?? 0n)).map(([p]) => p));
    if (remaining.size === 0) return 0;
    if (opts.from) await admin.setOffsets({ groupId, topic, partitions: [...starts].map(([partition, offset]) => ({ partition, offset: String(offset) })) });
  } finally {
    await admin.disconnect();
  }
  const consumer = kafka.consumer({ groupId, readUncommitted: false, maxWaitTimeInMs: 100 });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  const positions = new Map<number, bigint>();
  let handed = 0;
  let done!: () => void;
  let failed!: (err: unknown) => void;
  const finished = new Promise<void>((resolve, reject) => ((done = resolve), (failed = reject)));
  const advance = (partition: number, next: bigint) => {
    if (next > (positions.get(partition) ?? 0n)) positions.set(partition, next);
    if ((positions.get(partition) ?? 0n) >= (ends.get(partition) ?? 0n)) remaining.delete(partition);
    if (remaining.size === 0) done();
  };
  consumer.on(consumer.events.END_BATCH_PROCESS, (e) => advance(e.payload.partition, BigInt(e.payload.lastOffset) + 1n));
  await consumer.run({
    autoCommit: false,
    eachBatch: async ({ batch }) => {
      const end = ends.get(batch.partition) ?? 0n;
      const records = batch.messages.filter((m) => BigInt(m.offset) < end).map((m) => toInRecord(topic, batch.partition, m));
      if (records.length === 0) return;
      handed += records.length;
      try {
        await handle(records);
      } catch (err) {
        failed(err);
      }
    },
  });
  const timeoutMs = opts.timeoutMs ?? 30_000;
  let timer: NodeJS.Timeout | undefined;
  // The time-out is for a stalled read, not for a long one: it starts again with every batch.
  const stalled = () => {
    clearTimeout(timer);
    timer = setTimeout(() => failed(new Error(`reading ${topic}: no progress for ${timeoutMs} ms before its end`)), timeoutMs);
  };
  consumer.on(consumer.events.END_BATCH_PROCESS, stalled);
  stalled();
  try {
    await finished;
  } finally {
    clearTimeout(timer);
    await consumer.disconnect();
  }
  return handed;
}

/**
 * Reads every committed record of `topic` from the beginning up to the end offsets observed at the start
 * (read_committed, a throwaway consumer group that never commits); none from a topic that does not exist (yet). For
 * tests, the demo summary and tools.
 */
export async function readTopic(kafka: Kafka, topic: string, opts: { timeoutMs?: number } = {}): Promise<InRecord[]> {
  const out: InRecord[] = [];
  await scanTopic(kafka, topic, (records) => void out.push(...records), { ...opts, missingOk: true });
  return out.sort((a, b) => a.partition - b.partition || Number(BigInt(a.offset) - BigInt(b.offset)));
}

/**
 * Follows every partition of `topic` from its start, for as long as it runs (a global table: each process holds all
 * of it). `caughtUp` resolves once the records up to the end offsets observed at the start were handed over; later
 * records keep coming. A consumer group of its own (no offsets committed): every start reads the topic again.
 */
export async function followTopic(kafka: Kafka, topic: string, handle: (records: InRecord[]) => void | Promise<void>): Promise<{ caughtUp: Promise<void>; stop(): Promise<void> }> {
  const admin = kafka.admin();
  await admin.connect();
  let ends: PartitionOffsets;
  try {
    await topicExists(admin, topic);
    ends = new Map([...(await topicOffsets(admin, topic))].filter(([, o]) => o.high > o.low).map(([p, o]) => [p, o.high]));
  } finally {
    await admin.disconnect();
  }
  let done!: () => void;
  const caughtUp = new Promise<void>((resolve) => (done = resolve));
  const behind = new Set(ends.keys());
  const advance = (partition: number, next: bigint) => {
    if (behind.has(partition) && next >= ends.get(partition)!) behind.delete(partition);
    if (behind.size === 0) done();
  };
  advance(-1, 0n);
  const consumer = kafka.consumer({ groupId: `consentgate-follower-${randomUUID()}`, readUncommitted: false, maxWaitTimeInMs: 100 });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  consumer.on(consumer.events.END_BATCH_PROCESS, (e) => advance(e.payload.partition, BigInt(e.payload.lastOffset) + 1n));
  await consumer.run({
    autoCommit: false,
    eachBatch: async ({ batch }) => {
      if (batch.messages.length) await handle(batch.messages.map((m) => toInRecord(topic, batch.partition, m)));
    },
  });
  return { caughtUp, stop: () => consumer.disconnect() };
}
