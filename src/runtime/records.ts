/**
 * The runtime's vocabulary for records and the ports it needs from a Kafka client. Adapters (src/adapters/kafka.ts,
 * src/adapters/schemaRegistry.ts) implement them; processors and tasks see only these types, so the runtime can be
 * driven in memory (test/topology/) and the client library swapped.
 */

/** A record as read from a topic: raw bytes, offsets as decimal strings (int64). */
export interface InRecord {
  topic: string;
  partition: number;
  offset: string;
  timestamp: string;
  key: Buffer | null;
  value: Buffer | null;
  headers: Record<string, Buffer>;
}

/**
 * In-band control records carry this header (its value names the kind, e.g. policy-cutover): they are not decoded
 * with the topic's serde but given to the processors that take control records (Processor.control), in order.
 */
export const CONTROL_HEADER = 'consentgate-control';

export const isControl = (r: InRecord): boolean => r.headers[CONTROL_HEADER] !== undefined;

/** A record to write. `partition` pins it (co-partitioned outputs); otherwise the key decides (murmur2, as Java). */
export interface OutRecord {
  topic: string;
  key: string | Buffer | null;
  value: Buffer | null;
  partition?: number;
  headers?: Record<string, string | Buffer>;
}

const byteLength = (v: string | Buffer | null | undefined) => (v == null ? 0 : typeof v === 'string' ? Buffer.byteLength(v) : v.length);

/**
 * An upper bound of the bytes a record batch holding only `r` takes (Kafka's v2 format: a 61-byte batch header,
 * then the record with its varints): what the broker compares with the topic's max.message.bytes.
 */
export function recordBatchBytes(r: Pick<OutRecord, 'key' | 'value' | 'headers'>): number {
  let n = 61 + 1 + 5 * 5 + byteLength(r.key) + byteLength(r.value);
  for (const k in r.headers) n += 10 + Buffer.byteLength(k) + byteLength(r.headers[k]);
  return n;
}

export interface TopicPartitionOffset {
  topic: string;
  partition: number;
  /** The next offset to read, as committed. */
  offset: string;
}

/** Encodes and decodes one topic's values in the Confluent wire format: 0x00, int32 schema id, Avro body. */
export interface Serde<T = unknown> {
  readonly schemaId: number;
  encode(value: T): Buffer;
  /** Throws ConsentgateError DESERIALIZATION_FAILED on bytes that are not a valid value. */
  decode(bytes: Buffer | null): Promise<T>;
  /** Decodes bytes this serde encoded (its own schema id), synchronously; throws on any other bytes. */
  decodeCurrent(bytes: Buffer): T;
}

export interface SerdeRegistry {
  /** The serde of a logical topic (e.g. 'consent.events'). */
  forTopic<T>(logical: string): Serde<T>;
}

/**
 * A task's transactional producer: `commit` writes the records and the input offsets in one transaction, or
 * aborts it and throws a ConsentgateError (PRODUCER_FENCED when a newer owner fenced it; retriable otherwise).
 */
export interface TransactionalProducer {
  commit(records: OutRecord[], groupId: string, offsets: TopicPartitionOffset[]): Promise<void>;
  close(): Promise<void>;
}

/** The logging the runtime does (pino's Logger fits; tests pass a silent one). */
export interface RuntimeLogger {
  debug(o: object, msg?: string): void;
  info(o: object, msg?: string): void;
  warn(o: object, msg?: string): void;
  error(o: object, msg?: string): void;
}
