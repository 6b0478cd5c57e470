import Module, { createRequire } from 'node:module';

// kafkajs 2.2.4 is its last release; three of its costs on our hot path are replaced here, in the module cache,
// before kafkajs loads (so this must be imported before 'kafkajs': src/adapters/kafka.ts imports it first).

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
/** What kafkajs' record batch takes of an encoded record: its bytes, as an Encoder has them. */
interface EncodedRecord {
  buf: Buffer;
  readonly buffer: Buffer;
}

/**
 * kafkajs encodes every record of a produce request with a fresh 512-byte zero-filled Encoder, and each of its
 * headers with another, then copies them all into the batch: ~6 allocations per output record, the largest single
 * cost in a profile of the pipeline (Buffer allocation 8.5%, produce encoding 6.5%, and much of GC's 13%). This
 * writes the same bytes (Kafka's Record v2: length, attributes, timestamp delta, offset delta, key, value, headers,
 * as zigzag varints) into one buffer of the exact size.
 */
export function encodeRecord({ offsetDelta = 0, timestampDelta = 0, key, value, headers = {} }: {
  offsetDelta?: number;
  timestampDelta?: number;
  key?: Bytes;
  value?: Bytes;
  headers?: Record<string, Bytes | Bytes[]>;
}): EncodedRecord {
  const k = bytesOf(key);
  const v = bytesOf(value);
  const hs: (Buffer | null)[] = []; // key, value, key, value, …
  for (const name in headers) {
    const h = headers[name];
    for (const one of Array.isArray(h) ? h : [h]) hs.push(Buffer.from(name, 'utf8'), bytesOf(one));
  }
  let body = 1 + varintSize(timestampDelta) + varintSize(offsetDelta) + bytesSize(k) + bytesSize(v) + varintSize(hs.length / 2);
  for (const b of hs) body += bytesSize(b);
  const buf = Buffer.allocUnsafe(varintSize(body) + body);
  let at = writeVarint(buf, 0, body);
  buf[at++] = 0; // attributes
  at = writeVarint(buf, at, timestampDelta);
  at = writeVarint(buf, at, offsetDelta);
  at = writeBytes(buf, at, k);
  at = writeBytes(buf, at, v);
  at = writeVarint(buf, at, hs.length / 2);
  for (const b of hs) at = writeBytes(buf, at, b);
  return { buf, get buffer() { return buf; } };
}

function bytesOf(x: Bytes): Buffer | null {
  if (x === null || x === undefined) return null;
  return Buffer.isBuffer(x) ? x : Buffer.from(String(x), 'utf8');
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

const bytesSize = (b: Buffer | null) => (b === null ? 1 : varintSize(b.length) + b.length);

function writeVarint(buf: Buffer, at: number, n: number): number {
  let z = zigzag(n);
  while (z >= 0x80) {
    buf[at++] = (z % 0x80) | 0x80;
    z = Math.floor(z / 0x80);
  }
  buf[at++] = z;
  return at;
}

function writeBytes(buf: Buffer, at: number, b: Buffer | null): number {
  if (b === null) return writeVarint(buf, at, -1);
  at = writeVarint(buf, at, b.length);
  b.copy(buf, at);
  return at + b.length;
}

interface Coordinators {
  findGroupCoordinatorMetadata(o: { groupId: string; coordinatorType: number }): Promise<{ coordinator: { nodeId: number } }>;
  findBroker(o: { nodeId: number }): Promise<unknown>;
}
type EosManager = Record<string, unknown>;
const TRANSACTION_STEPS = ['initProducerId', 'addPartitionsToTransaction', 'sendOffsets', 'commit', 'abort'];

/**
 * kafkajs' transaction manager asks the cluster for the transaction coordinator before every step and for the group
 * coordinator before every offset commit — four FindCoordinator round trips in each transaction besides the five
 * it needs (AddPartitionsToTxn, Produce, AddOffsetsToTxn, TxnOffsetCommit, EndTxn). This wraps its factory so that
 * each transactional producer remembers its coordinators (as the Java client does) and forgets them when any
 * transaction step fails, so a step retried after a coordinator moved looks them up again.
 */
export function withRememberedCoordinators<O extends { cluster: Coordinators }>(create: (o: O) => EosManager): (o: O) => EosManager {
  return (o) => {
    const nodes = new Map<string, number>();
    const cluster = Object.create(o.cluster, {
      findGroupCoordinator: {
        value: async ({ groupId, coordinatorType }: { groupId: string; coordinatorType: number }) => {
          const key = `${coordinatorType}:${groupId}`;
          let nodeId = nodes.get(key);
          if (nodeId === undefined) {
            nodeId = (await o.cluster.findGroupCoordinatorMetadata({ groupId, coordinatorType })).coordinator.nodeId;
            nodes.set(key, nodeId);
          }
          return o.cluster.findBroker({ nodeId });
        },
      },
    }) as Coordinators;
    const manager = create({ ...o, cluster });
    for (const step of TRANSACTION_STEPS) {
      const original = manager[step] as (...args: unknown[]) => Promise<unknown>;
      manager[step] = (...args: unknown[]) => original.apply(manager, args).catch((err: unknown) => {
        nodes.clear();
        throw err;
      });
    }
    return manager;
  };
}

const require = createRequire(import.meta.url);
/** Puts `exports(loadOriginal)` into the module cache as the module at `modulePath`. */
function replace(modulePath: string, exports: (loadOriginal: () => unknown) => unknown): void {
  const path = require.resolve(modulePath);
  if ((require.cache[path] as { patched?: boolean } | undefined)?.patched) return;
  const patched = Object.assign(new Module(path), { filename: path, loaded: true, patched: true });
  patched.exports = exports(() => require(path));
  require.cache[path] = patched;
}
replace('kafkajs/src/producer/groupMessagesPerPartition.js', () => groupMessagesPerPartition);
replace('kafkajs/src/protocol/recordBatch/record/v0/index.js', () => encodeRecord);
replace('kafkajs/src/producer/eosManager/index.js', (original) => withRememberedCoordinators(original() as (o: { cluster: Coordinators }) => EosManager));
