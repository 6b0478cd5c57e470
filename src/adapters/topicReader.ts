import type { Kafka } from 'kafkajs';
import { randomUUID } from 'node:crypto';
import { toInRecord, topicOffsets, type InRecord } from './kafka.ts';

/**
 * Reads every committed record of `topic` from the beginning up to the end offsets observed at the start
 * (read_committed, a throwaway consumer group that never commits). For tests, the demo summary and tools.
 */
export async function readTopic(kafka: Kafka, topic: string, opts: { timeoutMs?: number } = {}): Promise<InRecord[]> {
  const admin = kafka.admin();
  await admin.connect();
  const offsets = await topicOffsets(admin, topic);
  await admin.disconnect();
  const ends = new Map([...offsets].map(([p, o]) => [p, o.high]));
  const starts = new Map([...offsets].map(([p, o]) => [p, o.low]));
  const remaining = new Set([...ends].filter(([p, end]) => end > (starts.get(p) ?? 0n)).map(([p]) => p));
  const out: InRecord[] = [];
  if (remaining.size === 0) return out;
  const consumer = kafka.consumer({ groupId: `consentgate-reader-${randomUUID()}`, readUncommitted: false, maxWaitTimeInMs: 100 });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  const positions = new Map<number, bigint>();
  let done!: () => void;
  const finished = new Promise<void>((r) => (done = r));
  const advance = (partition: number, next: bigint) => {
    if (next > (positions.get(partition) ?? 0n)) positions.set(partition, next);
    if ((positions.get(partition) ?? 0n) >= ends.get(partition)!) remaining.delete(partition);
    if (remaining.size === 0) done();
  };
  consumer.on(consumer.events.END_BATCH_PROCESS, (e) => advance(e.payload.partition, BigInt(e.payload.lastOffset) + 1n));
  await consumer.run({
    autoCommit: false,
    eachBatch: async ({ batch }) => {
      for (const m of batch.messages) {
        if (BigInt(m.offset) >= ends.get(batch.partition)!) continue;
        out.push(toInRecord(topic, batch.partition, m));
      }
    },
  });
  const timeoutMs = opts.timeoutMs ?? 30_000;
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      finished,
      new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`reading ${topic}: not at the end after ${timeoutMs} ms`)), timeoutMs))),
    ]);
  } finally {
    clearTimeout(timer);
    await consumer.disconnect();
  }
  return out.sort((a, b) => a.partition - b.partition || Number(BigInt(a.offset) - BigInt(b.offset)));
}
