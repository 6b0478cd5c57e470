// Consumer-group lag as `consentgate lag` reports it: committed offsets against last stable offsets, made exact by
// reading what lies between them (read_committed), so commit markers and aborted records are not counted as lag and
// the time lag is the age of the first record the group has not consumed, not an interpolation.
import { randomUUID } from 'node:crypto';
import { ConsentgateError } from '../errors.ts';
import { topicOffsets, type Admin, type Kafka } from './kafka.ts';

export interface PartitionLag {
  topic: string;
  partition: number;
  /** The group's committed offset (null: none; it would start at the log start). */
  committed: bigint | null;
  /** The last stable offset: what a read_committed consumer reaches. */
  end: bigint;
  /** Records between the committed offset and the end (not counting commit markers and aborted records). */
  lag: number;
  /** Age of the first record not consumed, in seconds (0 when none is left). */
  lagSeconds: number;
  /** False when the records were too many to count within the limits: `lag` is end − committed then (an upper bound). */
  exact: boolean;
}

export interface GroupLag {
  group: string;
  /** The group's state as the coordinator says it (Stable, Empty, PreparingRebalance, …) and its members. */
  state: string;
  members: number;
  partitions: PartitionLag[];
}

/**
 * Measures `group`'s lag on every partition of every topic it has committed offsets for. Partitions whose committed
 * offset is below the end are read from there (a throwaway read_committed consumer that never commits), counting
 * records up to `countUpTo` per partition, within `timeoutMs`.
 */
export async function measureGroupLag(kafka: Kafka, admin: Admin, group: string, o: { countUpTo?: number; timeoutMs?: number; now?: () => number } = {}): Promise<GroupLag> {
  const now = o.now ?? Date.now;
  const [committed, described] = await Promise.all([admin.fetchOffsets({ groupId: group }), admin.describeGroups([group])]);
  const topics = committed.filter((t) => t.partitions.some((p) => p.offset !== '-1')).map((t) => t.topic);
  const info = described.groups[0];
  if (topics.length === 0) {
    throw new ConsentgateError('CONFIG_INVALID', `consumer group ${group} has no committed offsets (state ${info?.state ?? 'unknown'}): is it the right group? The pipeline's is <CONSENTGATE_TOPIC_PREFIX>consentgate`);
  }
  const partitions: PartitionLag[] = [];
  for (const topic of topics) {
    const offsets = await topicOffsets(admin, topic);
    const byPartition = new Map(committed.find((t) => t.topic === topic)!.partitions.map((p) => [p.partition, p.offset]));
    for (const [partition, { low, high }] of [...offsets].sort(([a], [b]) => a - b)) {
      const c = byPartition.get(partition);
      const from = c === undefined || c === '-1' ? null : BigInt(c);
      const start = from === null || from < low ? low : from;
      partitions.push({ topic, partition, committed: from, end: high, lag: high > start ? Number(high - start) : 0, lagSeconds: 0, exact: high <= start });
    }
  }
  const behind = partitions.filter((p) => !p.exact);
  if (behind.length) await countBehind(kafka, behind, o.countUpTo ?? 100_000, o.timeoutMs ?? 15_000, now);
  return { group, state: info?.state ?? 'Unknown', members: info?.members.length ?? 0, partitions };
}

/** Reads each partition from its committed offset to its end: the records there, and the first one's timestamp. */
async function countBehind(kafka: Kafka, behind: PartitionLag[], countUpTo: number, timeoutMs: number, now: () => number): Promise<void> {
  const key = (topic: string, partition: number) => `${topic}:${partition}`;
  const open = new Map(behind.map((p) => {
    const start = p.end - BigInt(p.lag); // the committed offset, or the log start without one
    return [key(p.topic, p.partition), { p, start, counted: 0, position: start, first: undefined as number | undefined }];
  }));
  const consumer = kafka.consumer({ groupId: `consentgate-lag-${randomUUID()}`, readUncommitted: false, maxWaitTimeInMs: 100 });
  let done!: () => void;
  const finished = new Promise<void>((r) => (done = r));
  const settle = (topic: string, partition: number) => {
    const s = open.get(key(topic, partition));
    if (!s || (s.position < s.p.end && s.counted < countUpTo)) return;
    s.p.exact = s.position >= s.p.end;
    if (s.p.exact) s.p.lag = s.counted;
    s.p.lagSeconds = s.first === undefined ? 0 : Math.max(0, now() - s.first) / 1000;
    open.delete(key(topic, partition));
    consumer.pause([{ topic, partitions: [partition] }]);
    if (open.size === 0) done();
  };
  await consumer.connect();
  try {
    await consumer.subscribe({ topics: [...new Set(behind.map((p) => p.topic))], fromBeginning: true });
    consumer.on(consumer.events.END_BATCH_PROCESS, (e) => {
      const s = open.get(key(e.payload.topic, e.payload.partition));
      if (!s) return;
      const next = BigInt(e.payload.lastOffset) + 1n; // past commit markers too
      if (next > s.position) s.position = next;
      settle(e.payload.topic, e.payload.partition);
    });
    consumer.on(consumer.events.GROUP_JOIN, () => {
      for (const s of open.values()) consumer.seek({ topic: s.p.topic, partition: s.p.partition, offset: String(s.start) });
    });
    await consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch }) => {
        const s = open.get(key(batch.topic, batch.partition));
        if (!s) return;
        for (const m of batch.messages) {
          const offset = BigInt(m.offset);
          if (offset < s.start || offset >= s.p.end) continue;
          s.first ??= Number(m.timestamp);
          s.counted++;
        }
      },
    });
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([finished, new Promise<void>((r) => (timer = setTimeout(r, timeoutMs)))]);
    clearTimeout(timer);
    // Not at the end in time: the first record's age if one was seen; the offsets between as an upper bound.
    for (const s of open.values()) s.p.lagSeconds = s.first === undefined ? 0 : Math.max(0, now() - s.first) / 1000;
  } finally {
    await consumer.disconnect();
  }
}
