// kafkajs' fetch path: record decoding (see index.ts).

/** What kafkajs' record decoder reads with. */
export interface KafkajsDecoder {
  buffer: Buffer;
  offset: number;
  readInt8(): number;
  readVarInt(): number;
  readVarLong(): { toString(): string };
  readVarIntBytes(): Buffer | null;
  readVarIntString(): string | null;
}
interface BatchContext {
  firstOffset?: string;
  firstTimestamp?: string;
  maxTimestamp?: string;
  magicByte?: number;
  isControlBatch?: boolean;
  timestampType?: number;
}
const LOG_APPEND_TIME = 1;

/**
 * kafkajs decodes each fetched record's offset and timestamp by parsing its batch's base offset and time (decimal
 * strings) into 64-bit Long objects and printing the sums back, and merges its headers by spreading an object per
 * header. This returns the same record with the sums done in plain numbers — exact below 2^53, which offsets and
 * millisecond times stay under; anything beyond goes the Long way.
 */
export function decodeRecord(longOf: (v: string) => { add(n: unknown): { toString(): string } }) {
  const plus = (base: string, delta: number | { toString(): string }) => {
    const n = Number(base);
    const sum = typeof delta === 'number' ? n + delta : NaN;
    return Number.isSafeInteger(n) && Number.isSafeInteger(sum) ? String(sum) : longOf(base).add(delta).toString();
  };
  return (decoder: KafkajsDecoder, batchContext: BatchContext = {}) => {
    const { firstOffset = '0', firstTimestamp = '0', magicByte, isControlBatch = false, timestampType, maxTimestamp } = batchContext;
    const attributes = decoder.readInt8();
    const timestampDelta = readVarLong(decoder);
    const timestamp = timestampType === LOG_APPEND_TIME && maxTimestamp ? maxTimestamp : plus(firstTimestamp, timestampDelta);
    const offset = plus(firstOffset, decoder.readVarInt());
    const key = decoder.readVarIntBytes();
    const value = decoder.readVarIntBytes();
    const headers: Record<string, Buffer | null | (Buffer | null)[]> = {};
    for (let n = decoder.readVarInt(); n > 0; n--) {
      const name = String(decoder.readVarIntString());
      const v = decoder.readVarIntBytes();
      const before = headers[name];
      headers[name] = before === undefined ? v : Array.isArray(before) ? [...before, v] : [before, v];
    }
    return { magicByte, attributes, timestamp, offset, key, value, headers, isControlRecord: isControlBatch, batchContext };
  };
}

/** A zigzag varlong as a number when it fits in 7 bytes (±2^48), else as kafkajs reads it (a Long). */
function readVarLong(decoder: KafkajsDecoder): number | { toString(): string } {
  const start = decoder.offset;
  const buf = decoder.buffer;
  let z = 0;
  let scale = 1;
  for (let i = 0; i < 7; i++) {
    const byte = buf[decoder.offset++]!;
    z += (byte & 0x7f) * scale;
    if (byte < 0x80) return z % 2 === 0 ? z / 2 : -(z + 1) / 2;
    scale *= 0x80;
  }
  decoder.offset = start;
  return decoder.readVarLong();
}

interface FetchedMessage {
  offset: string;
  key: Buffer | null;
  isControlRecord?: boolean;
  batchContext: { producerId: string; inTransaction: boolean };
}

/**
 * kafkajs' read_committed filter, corrected. kafkajs takes the fetch response's aborted transactions in the order
 * the broker lists them (by their abort markers' offsets) and activates at most one per message, so with two
 * producers' aborted transactions interleaved in a partition, records of the one that started first but aborted
 * last are delivered as committed. As the Java consumer does: aborted transactions by first offset, every one that
 * has started by a record's offset activated before the record is judged, and only an abort control record (not a
 * data record whose key happens to look like one) ends its producer's aborted range.
 */
export function filterAbortedMessages<M extends FetchedMessage>({ messages, abortedTransactions }: { messages: M[]; abortedTransactions?: { firstOffset: string; producerId: string }[] }): M[] {
  if (!abortedTransactions?.length) return messages;
  const pending = abortedTransactions.map((t) => ({ first: BigInt(t.firstOffset), producerId: String(t.producerId) })).sort((a, b) => (a.first < b.first ? -1 : a.first > b.first ? 1 : 0));
  const aborted = new Set<string>();
  return messages.filter((m) => {
    const offset = BigInt(m.offset);
    while (pending.length && offset >= pending[0]!.first) aborted.add(pending.shift()!.producerId);
    const producerId = String(m.batchContext.producerId);
    if (m.isControlRecord) {
      if (isAbortMarker(m.key)) aborted.delete(producerId);
      return true; // kafkajs drops control records after this filter
    }
    return !(m.batchContext.inTransaction && aborted.has(producerId));
  });
}

/** A control record's key: version (int16), type (int16: 0 abort, 1 commit). */
function isAbortMarker(key: Buffer | null): boolean {
  return key !== null && key.length >= 4 && key.readInt16BE(2) === 0;
}

/** The consumer event (kafkajs' naming) that reports each fetch's end offsets; see `reportingFetchedEnds`. */
export const PARTITIONS_FETCHED = 'consumer.partitions_fetched';

/** What a PARTITIONS_FETCHED event carries: when the fetch was sent (performance.now()), and each partition's last stable offset. */
export interface FetchedEnds {
  sentAt: number;
  partitions: { topic: string; partition: number; lastStableOffset?: string }[];
}

/** kafkajs' Batch, keeping the fetch response's last stable offset of its partition (kafkajs reads it, then drops it). */
export function batchWithLastStableOffset<B extends new (...args: any[]) => object>(Batch: B): B {
  return class extends Batch {
    lastStableOffset?: string;
    constructor(...args: any[]) {
      super(...args);
      // (topic, fetchedOffset, partitionData)
      this.lastStableOffset = (args[2] as { lastStableOffset?: string }).lastStableOffset;
    }
  };
}

interface KafkajsConsumerGroup {
  instrumentationEmitter: { emit(event: string, payload: unknown): void };
  fetch(nodeId: number): Promise<{ topic: string; partition: number; lastStableOffset?: string }[]>;
}

/**
 * kafkajs' ConsumerGroup, reporting what each successful fetch learnt of its partitions' end offsets: a read_committed
 * fetch response carries every fetched partition's last stable offset, computed by the broker after the request was
 * sent (`sentAt` is taken before), so a consumer's own fetches answer "what is the end offset now" without a
 * ListOffsets request of their own. A fetch that failed reports nothing.
 */
export function reportingFetchedEnds<G extends new (...args: any[]) => KafkajsConsumerGroup>(ConsumerGroup: G): G {
  return class extends ConsumerGroup {
    override async fetch(nodeId: number) {
      const sentAt = performance.now();
      const batches = await super.fetch(nodeId);
      if (batches.length) {
        const report: FetchedEnds = { sentAt, partitions: batches.map((b) => ({ topic: b.topic, partition: b.partition, lastStableOffset: b.lastStableOffset })) };
        this.instrumentationEmitter.emit(PARTITIONS_FETCHED, report);
      }
      return batches;
    }
  };
}

/** kafkajs' consumer events with PARTITIONS_FETCHED among them (its consumer.on() accepts only these). */
export function withPartitionsFetchedEvent<E extends { events: Record<string, string> }>(module: E): E {
  return { ...module, events: { ...module.events, PARTITIONS_FETCHED } };
}
