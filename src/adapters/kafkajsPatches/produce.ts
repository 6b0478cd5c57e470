// kafkajs' produce path: grouping, record and request encoding (see index.ts).

/**
 * kafkajs groups a produce batch's messages per partition by copying the partition's array
 * for every message — O(n²): 44 ms for 5,000 messages to one partition, paid on every task commit (a task writes a
 * cycle's decisions, sink records and changelog to its own partition). This puts a linear version of the same
 * function into the module cache. Same result: partition → its messages, in order.
 */
export function groupMessagesPerPartition<M>({ topic, partitionMetadata, messages, partitioner }: {
  topic: string;
  partitionMetadata: unknown[];
  messages: M[];
  partitioner: (args: { topic: string; partitionMetadata: unknown[]; message: M }) => number;
}): Record<number, M[]> {
  const result: Record<number, M[]> = {};
  if (partitionMetadata.length === 0) return result;
  for (const message of messages) (result[partitioner({ topic, partitionMetadata, message })] ??= []).push(message);
  return result;
}

type Bytes = Buffer | string | null | undefined;
/**
 * A key, value or header value as it is written: bytes, or a string written as UTF-8 straight into the request (no
 * Buffer made for it: a sink record's key and its three header values were four Buffer.from calls), or null.
 */
type Field = Buffer | string | null;
/** Encoded bytes as kafkajs takes them from an Encoder (a record into its batch, a payload into its frame). */
interface Encoded {
  buf: Buffer;
  readonly buffer: Buffer;
  /** Bytes free in `buf` before `buffer` (a produce request leaves room for its frame's header there). */
  headroom?: number;
}

/**
 * kafkajs encodes every record of a produce request with a fresh 512-byte zero-filled Encoder, and each of its
 * headers with another, then copies them all into the batch: ~6 allocations per output record, the largest single
 * cost in a profile of the pipeline (Buffer allocation 8.5%, produce encoding 6.5%, and much of GC's 13%). This
 * writes the same bytes (Kafka's Record v2: length, attributes, timestamp delta, offset delta, key, value, headers,
 * as zigzag varints) into one buffer of the exact size.
 */
export function encodeRecord(fields: RecordFields): Encoded {
  const r = prepareRecord(fields);
  const buf = Buffer.allocUnsafe(r.size);
  writeRecord(buf, 0, r);
  return encoded(buf);
}

interface RecordFields {
  offsetDelta?: number;
  timestampDelta?: number;
  key?: Bytes;
  value?: Bytes;
  headers?: Record<string, Bytes | Bytes[]>;
}

/** A record's parts, and the size of its encoding (length prefix included). */
interface PreparedRecord {
  size: number;
  body: number;
  offsetDelta: number;
  timestampDelta: number;
  key: Field;
  value: Field;
  /** Header name, value, name, value, … */
  headers: Field[];
}

function prepareRecord({ offsetDelta = 0, timestampDelta = 0, key, value, headers = {} }: RecordFields): PreparedRecord {
  const k = fieldOf(key);
  const v = fieldOf(value);
  const hs: Field[] = [];
  for (const name in headers) {
    const h = headers[name];
    const nameBytes = headerName(name);
    if (Array.isArray(h)) for (const one of h) hs.push(nameBytes, fieldOf(one));
    else hs.push(nameBytes, fieldOf(h));
  }
  let body = 1 + varintSize(timestampDelta) + varintSize(offsetDelta) + fieldSize(k) + fieldSize(v) + varintSize(hs.length / 2);
  for (const b of hs) body += fieldSize(b);
  return { size: varintSize(body) + body, body, offsetDelta, timestampDelta, key: k, value: v, headers: hs };
}

/** Writes a prepared record at `at`; returns where it ends. */
function writeRecord(buf: Buffer, at: number, r: PreparedRecord): number {
  at = writeVarint(buf, at, r.body);
  buf[at++] = 0; // attributes
  at = writeVarint(buf, at, r.timestampDelta);
  at = writeVarint(buf, at, r.offsetDelta);
  at = writeField(buf, at, r.key);
  at = writeField(buf, at, r.value);
  at = writeVarint(buf, at, r.headers.length / 2);
  for (const b of r.headers) at = writeField(buf, at, b);
  return at;
}

/** Header names repeat on every record: their UTF-8 bytes are kept (the first 100 names seen). */
const headerNames = new Map<string, Buffer>();
function headerName(name: string): Buffer {
  let bytes = headerNames.get(name);
  if (bytes === undefined) {
    bytes = Buffer.from(name, 'utf8');
    if (headerNames.size < 100) headerNames.set(name, bytes);
  }
  return bytes;
}

function fieldOf(x: Bytes): Field {
  if (x === null || x === undefined) return null;
  return typeof x === 'string' || Buffer.isBuffer(x) ? x : String(x);
}

/** Zigzag of a safe integer (exact beyond 32 bits, where bit operations are not). */
const zigzag = (n: number) => (n >= 0 ? n * 2 : -n * 2 - 1);

function varintSize(n: number): number {
  let z = zigzag(n);
  let size = 1;
  while (z >= 0x80) {
    z = Math.floor(z / 0x80);
    size++;
  }
  return size;
}

function fieldSize(f: Field): number {
  if (f === null) return 1;
  const n = typeof f === 'string' ? Buffer.byteLength(f, 'utf8') : f.length;
  return varintSize(n) + n;
}

function writeVarint(buf: Buffer, at: number, n: number): number {
  let z = zigzag(n);
  while (z >= 0x80) {
    buf[at++] = (z % 0x80) | 0x80;
    z = Math.floor(z / 0x80);
  }
  buf[at++] = z;
  return at;
}

function writeField(buf: Buffer, at: number, f: Field): number {
  if (f === null) return writeVarint(buf, at, -1);
  if (typeof f === 'string') {
    const n = Buffer.byteLength(f, 'utf8');
    at = writeVarint(buf, at, n);
    if (n === f.length && n <= 64) {
      // ASCII and short (keys, ids, versions): a loop is several times faster than Buffer#write's call.
      for (let i = 0; i < n; i++) buf[at + i] = f.charCodeAt(i);
    } else {
      buf.write(f, at, n, 'utf8');
    }
    return at + n;
  }
  at = writeVarint(buf, at, f.length);
  f.copy(buf, at);
  return at + f.length;
}

/** CRC-32C (Castagnoli), eight bytes a step (kafkajs' own goes byte by byte: 3% of the pipeline's CPU). */
export function crc32c(buf: Uint8Array, start = 0, end = buf.length): number {
  const t = CRC32C_TABLES;
  let crc = -1;
  let i = start;
  for (; i + 8 <= end; i += 8) {
    const a = (buf[i]! | (buf[i + 1]! << 8) | (buf[i + 2]! << 16) | (buf[i + 3]! << 24)) ^ crc;
    crc = t[1792 + (a & 0xff)]! ^ t[1536 + ((a >>> 8) & 0xff)]! ^ t[1280 + ((a >>> 16) & 0xff)]! ^ t[1024 + (a >>> 24)]!
      ^ t[768 + buf[i + 4]!]! ^ t[512 + buf[i + 5]!]! ^ t[256 + buf[i + 6]!]! ^ t[buf[i + 7]!]!;
  }
  for (; i < end; i++) crc = t[(crc ^ buf[i]!) & 0xff]! ^ (crc >>> 8);
  return (crc ^ -1) >>> 0;
}

/** Table k: the CRC of a byte followed by k zero bytes. */
const CRC32C_TABLES = (() => {
  const t = new Int32Array(256 * 8);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
    t[n] = c;
  }
  for (let n = 0; n < 256; n++) {
    for (let k = 1; k < 8; k++) t[k * 256 + n] = t[t[(k - 1) * 256 + n]! & 0xff]! ^ (t[(k - 1) * 256 + n]! >>> 8);
  }
  return t;
})();

export interface KafkaLong {
  getHighBits(): number;
  getLowBits(): number;
}
interface ProduceMessage {
  key?: Bytes;
  value?: Bytes;
  headers?: Record<string, Bytes | Bytes[]>;
  timestamp?: number | string | null;
}
export interface ProduceRequestArgs {
  acks: number;
  timeout: number;
  transactionalId?: string | null;
  producerId?: unknown;
  producerEpoch?: number;
  compression?: number;
  topicData: { topic: string; partitions: { partition: number; firstSequence?: number; messages: ProduceMessage[] }[] }[];
}
/** The parts of kafkajs a produce request is written with. */
export interface KafkajsProtocol {
  longOf(value: unknown): KafkaLong;
  produceApiKey: number;
  noCompression: number;
}
const BATCH_HEADER = 4 + 4 + 8 + 4 + 4 + 1 + 4; // partition, record set size; first offset, length, leader epoch, magic, crc
const BATCH_BODY_HEADER = 2 + 4 + 8 + 8 + 8 + 2 + 4 + 4; // attributes … first sequence, record count

/**
 * kafkajs' Produce request (v3, which v4–v7 reuse) without compression, written as kafkajs writes it but into one
 * buffer of its exact size: kafkajs copies each record batch five times on its way into the request, sorts the
 * messages' timestamps as strings to find the first and the largest, and spreads every message into a new object.
 * Each record is written once, in place; the buffer leaves FRAME_HEADROOM bytes in front for the frame's header
 * (frameRequest), so the request is not copied into its frame either. Compressed requests go to kafkajs' own encoder.
 */
export function produceRequest(kafkajs: KafkajsProtocol, original: (args: ProduceRequestArgs) => unknown) {
  return (args: ProduceRequestArgs) => {
    const { acks, timeout, transactionalId = null, producerEpoch = 0, compression = kafkajs.noCompression, topicData } = args;
    if (compression !== kafkajs.noCompression) return original(args);
    const producerId = kafkajs.longOf(args.producerId ?? -1);
    return {
      apiKey: kafkajs.produceApiKey,
      apiVersion: 3,
      apiName: 'Produce',
      expectResponse: () => acks !== 0,
      encode: async () => {
        // The request's fields and its batches written once into a buffer of the exact size: kafkajs' Encoders grow
        // by zero-filled doubling and copy every batch twice more on its way in.
        const batches = topicData.map(({ partitions }) => partitions.map(({ partition, firstSequence = 0, messages }) => prepareBatch(partition, messages, firstSequence)));
        let size = stringSize(transactionalId) + 2 + 4 + 4;
        topicData.forEach(({ topic }, t) => {
          size += stringSize(topic) + 4;
          for (const b of batches[t]!) size += b.size;
        });
        const buf = Buffer.allocUnsafe(FRAME_HEADROOM + size);
        let at = writeString(buf, FRAME_HEADROOM, transactionalId);
        at = buf.writeInt16BE(acks, at);
        at = buf.writeInt32BE(timeout, at);
        at = buf.writeInt32BE(topicData.length, at);
        const ids = { transactional: transactionalId !== null, producerId, producerEpoch };
        topicData.forEach(({ topic }, t) => {
          at = writeString(buf, at, topic);
          at = buf.writeInt32BE(batches[t]!.length, at);
          for (const b of batches[t]!) at = writeBatch(kafkajs, buf, at, b, ids);
        });
        return { buf, buffer: buf.subarray(FRAME_HEADROOM), headroom: FRAME_HEADROOM };
      },
    };
  };
}

/** Room left in front of a produce request for its frame's header: sizes, api key and version, correlation id, a client id of up to 100 bytes. */
const FRAME_HEADROOM = 4 + 2 + 2 + 4 + 2 + 100;

/** One partition's entry of a Produce request, its records prepared: their first and largest timestamps and the entry's size. */
interface PreparedBatch {
  partition: number;
  firstSequence: number;
  first: number;
  max: number;
  records: PreparedRecord[];
  size: number;
}

function prepareBatch(partition: number, messages: ProduceMessage[], firstSequence: number): PreparedBatch {
  const now = Date.now();
  let first = Infinity;
  let max = -Infinity;
  for (const m of messages) {
    if (m.timestamp === null || m.timestamp === undefined) continue;
    const t = Number(m.timestamp);
    if (t < first) first = t;
    if (t > max) max = t;
  }
  if (first === Infinity) first = max = now;
  const records = messages.map((m, i) => prepareRecord({ key: m.key, value: m.value, headers: m.headers, offsetDelta: i, timestampDelta: Number(m.timestamp || now) - first }));
  let size = BATCH_HEADER + BATCH_BODY_HEADER;
  for (const r of records) size += r.size;
  return { partition, firstSequence, first, max, records, size };
}

/** Writes a partition's entry at `start`: partition, record set size, and its uncompressed record batch (v2). Returns where it ends. */
function writeBatch(kafkajs: KafkajsProtocol, buf: Buffer, start: number, b: PreparedBatch, o: { transactional: boolean; producerId: KafkaLong; producerEpoch: number }): number {
  const end = start + b.size;
  buf.writeInt32BE(b.partition, start);
  buf.writeInt32BE(b.size - 8, start + 4); // the record set: everything after this field
  writeLong(buf, start + 8, kafkajs.longOf(0)); // first offset
  buf.writeInt32BE(b.size - 20, start + 16); // batch length: everything after this field
  buf.writeInt32BE(0, start + 20); // partition leader epoch
  buf.writeInt8(2, start + 24); // magic
  let at = start + BATCH_HEADER;
  const bodyStart = at;
  buf.writeInt16BE(o.transactional ? 16 : 0, at); // attributes: no compression, create time, transactional bit
  buf.writeInt32BE(b.records.length - 1, at + 2); // last offset delta
  writeLong(buf, at + 6, kafkajs.longOf(b.first));
  writeLong(buf, at + 14, kafkajs.longOf(b.max));
  writeLong(buf, at + 22, o.producerId);
  buf.writeInt16BE(o.producerEpoch, at + 30);
  buf.writeInt32BE(b.firstSequence, at + 32);
  buf.writeInt32BE(b.records.length, at + 36);
  at += BATCH_BODY_HEADER;
  for (const r of b.records) at = writeRecord(buf, at, r);
  buf.writeUInt32BE(crc32c(buf, bodyStart, end), start + 25);
  return end;
}

function writeLong(buf: Buffer, at: number, v: KafkaLong): void {
  buf.writeInt32BE(v.getHighBits(), at);
  buf.writeInt32BE(v.getLowBits(), at + 4);
}

function encoded(buf: Buffer): Encoded {
  return { buf, get buffer() { return buf; } };
}

/** The size of a Kafka STRING (int16 length, UTF-8 bytes; null is length -1). */
function stringSize(s: string | null): number {
  return 2 + (s === null ? 0 : Buffer.byteLength(s, 'utf8'));
}

function writeString(buf: Buffer, at: number, s: string | null): number {
  if (s === null) return buf.writeInt16BE(-1, at);
  const n = buf.write(s, at + 2, 'utf8');
  buf.writeInt16BE(n, at);
  return at + 2 + n;
}

/**
 * kafkajs frames every request (size, api key and version, correlation id, client id, payload) through two more
 * Encoders, each growing from 512 bytes by zero-filled doubling and copying the payload: for a transaction's produce
 * request of a few MB, ~6 copies and as many zero-filled bytes. This writes the same frame into one buffer: in front
 * of a produce request, into the room it left (no copy at all), else into a buffer of the exact size.
 */
export async function frameRequest({ correlationId, clientId, request: { apiKey, apiVersion, encode } }: {
  correlationId: number;
  clientId: string | null;
  request: { apiKey: number; apiVersion: number; encode(): Promise<Pick<Encoded, 'buffer'> & Partial<Encoded>> };
}): Promise<Encoded> {
  const { buffer: payload, buf: whole, headroom = 0 } = await encode();
  const header = 4 + 2 + 2 + 4 + stringSize(clientId);
  const size = header - 4 + payload.length;
  // A payload written with room in front (a produce request) gets its header there; any other is copied behind one.
  const inPlace = whole !== undefined && headroom >= header;
  const buf = inPlace ? whole.subarray(headroom - header) : Buffer.allocUnsafe(4 + size);
  let at = buf.writeInt32BE(size, 0);
  at = buf.writeInt16BE(apiKey, at);
  at = buf.writeInt16BE(apiVersion, at);
  at = buf.writeInt32BE(correlationId, at);
  at = writeString(buf, at, clientId);
  if (!inPlace) payload.copy(buf, at);
  return encoded(buf);
}
