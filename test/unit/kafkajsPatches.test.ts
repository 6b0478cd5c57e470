import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import Module, { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { it } from 'node:test';
import '../../src/adapters/kafka.ts';
import { crc32c, encodeRecord, frameRequest, groupMessagesPerPartition } from '../../src/adapters/kafkajsPatches/produce.ts';
import { filterAbortedMessages } from '../../src/adapters/kafkajsPatches/fetch.ts';
import { murmur2 } from '../../src/adapters/kafkajsPatches/partitioner.ts';
import { withRememberedCoordinators } from '../../src/adapters/kafkajsPatches/transactions.ts';

const require = createRequire(import.meta.url);

/** A kafkajs module as kafkajs wrote it, compiled from its source (the module cache holds our replacement). */
function kafkajsOriginal(path: string): unknown {
  const original = new Module(path) as Module & { _compile(code: string, file: string): void };
  original.filename = path;
  original.paths = (Module as unknown as { _nodeModulePaths(dir: string): string[] })._nodeModulePaths(dirname(path));
  original._compile(readFileSync(path, 'utf8'), path);
  return original.exports;
}

it("kafkajs' producer groups messages per partition with the linear version, with the same result", () => {
  assert.equal(require('kafkajs/src/producer/groupMessagesPerPartition.js'), groupMessagesPerPartition);
  const messages = Array.from({ length: 20_000 }, (_, i) => ({ key: `k${i}`, partition: i % 3 === 0 ? 5 : 2 }));
  const grouped = groupMessagesPerPartition({ topic: 't', partitionMetadata: [{}], messages, partitioner: ({ message }) => message.partition });
  assert.deepEqual(Object.keys(grouped), ['2', '5']);
  assert.deepEqual(grouped[5], messages.filter((m) => m.partition === 5));
  assert.deepEqual(grouped[2], messages.filter((m) => m.partition === 2));
  assert.deepEqual(groupMessagesPerPartition({ topic: 't', partitionMetadata: [], messages, partitioner: () => 0 }), {});
});

it("kafkajs' transaction manager looks its coordinators up once, and again after a failed step", async () => {
  const lookups: string[] = [];
  const cluster = {
    findGroupCoordinatorMetadata: async ({ groupId, coordinatorType }: { groupId: string; coordinatorType: number }) => {
      lookups.push(`${coordinatorType}:${groupId}`);
      return { coordinator: { nodeId: lookups.length } };
    },
    findBroker: async ({ nodeId }: { nodeId: number }) => ({ nodeId }),
  };
  let failNext = false;
  type Patched = { findGroupCoordinator(o: { groupId: string; coordinatorType: number }): Promise<{ nodeId: number }> };
  const create = withRememberedCoordinators(({ cluster: c }: { cluster: typeof cluster }) => {
    const find = (groupId: string, coordinatorType: number) => (c as unknown as Patched).findGroupCoordinator({ groupId, coordinatorType });
    const coordinator = () => find('tx-1', 1);
    return {
      async sendOffsets() {
        return [(await coordinator()).nodeId, (await find('group', 0)).nodeId];
      },
      async commit() {
        const { nodeId } = await coordinator();
        if (failNext) throw new Error('NOT_COORDINATOR');
        return nodeId;
      },
    };
  });
  const manager = create({ cluster }) as Record<string, () => Promise<unknown>>;
  assert.deepEqual(await manager.sendOffsets!(), [1, 2]);
  assert.equal(await manager.commit!(), 1);
  assert.deepEqual(await manager.sendOffsets!(), [1, 2]);
  assert.deepEqual(lookups, ['1:tx-1', '0:group']);
  failNext = true;
  await assert.rejects(manager.commit!(), /NOT_COORDINATOR/);
  failNext = false;
  assert.equal(await manager.commit!(), 3); // looked up again
  assert.deepEqual(lookups, ['1:tx-1', '0:group', '1:tx-1']);
  assert.equal((require.cache[require.resolve('kafkajs/src/producer/eosManager/index.js')] as { patched?: boolean }).patched, true);
});

it("kafkajs' transaction manager retries CONCURRENT_TRANSACTIONS of AddPartitionsToTxn and AddOffsetsToTxn itself, keeping its coordinators", async () => {
  let lookups = 0;
  const calls: string[] = [];
  const answers = ['CONCURRENT_TRANSACTIONS', 'CONCURRENT_TRANSACTIONS', 'ok', 'INVALID_TXN_STATE'];
  const broker = {
    async addPartitionsToTxn() {
      const answer = answers.shift()!;
      calls.push(answer);
      if (answer !== 'ok') throw Object.assign(new Error(answer), { type: answer });
    },
    async addOffsetsToTxn() {},
  };
  const cluster = {
    findGroupCoordinatorMetadata: async () => ({ coordinator: { nodeId: ++lookups } }),
    findBroker: async () => broker,
  };
  type Patched = { findGroupCoordinator(o: { groupId: string; coordinatorType: number }): Promise<typeof broker> };
  const create = withRememberedCoordinators(({ cluster: c }: { cluster: typeof cluster }) => ({
    async addPartitionsToTransaction() {
      await (await (c as unknown as Patched).findGroupCoordinator({ groupId: 'tx-1', coordinatorType: 1 })).addPartitionsToTxn();
    },
  }));
  const manager = create({ cluster }) as Record<string, () => Promise<unknown>>;
  await manager.addPartitionsToTransaction!(); // answered CONCURRENT_TRANSACTIONS twice, then added
  assert.deepEqual(calls, ['CONCURRENT_TRANSACTIONS', 'CONCURRENT_TRANSACTIONS', 'ok']);
  assert.equal(lookups, 1, 'the coordinator was looked up once');
  await assert.rejects(manager.addPartitionsToTransaction!(), /INVALID_TXN_STATE/); // any other error is not retried here
  assert.equal(calls.length, 4);
  await assert.rejects(manager.addPartitionsToTransaction!()); // and the coordinator is looked up again after it
  assert.equal(lookups, 2);
});

it("kafkajs' produce requests encode each record into one buffer of its exact size, byte for byte as kafkajs did", () => {
  const path = require.resolve('kafkajs/src/protocol/recordBatch/record/v0/index.js');
  const kafkajsRecord = kafkajsOriginal(path) as (r: object) => { buffer: Buffer };
  assert.equal(require(path), encodeRecord);
  const records = [
    { key: Buffer.from('customer-1'), value: Buffer.alloc(300, 7), headers: { 'x-policy': Buffer.from('v3'), 'x-n': ['1', '2'] }, offsetDelta: 0, timestampDelta: 0 },
    { key: null, value: null, offsetDelta: 127, timestampDelta: -5 },
    { key: 'ünï', value: 'a string value', headers: {}, offsetDelta: 20_000, timestampDelta: 3_600_000_000_000 },
    { key: Buffer.alloc(0), value: Buffer.alloc(70_000, 1), offsetDelta: 64, timestampDelta: -64 },
    { value: Buffer.from('no key, no headers') },
  ];
  for (const r of records) {
    const mine = encodeRecord(r);
    assert.deepEqual(mine.buffer, kafkajsRecord(r).buffer);
    assert.equal(mine.buf.length, mine.buffer.length);
  }
});

it("kafkajs' produce requests are written with one buffer per partition, byte for byte as kafkajs wrote them", async () => {
  const path = require.resolve('kafkajs/src/protocol/requests/produce/v3/request.js');
  type Request = (args: object) => { apiKey: number; apiVersion: number; encode(): Promise<{ buffer: Buffer }> };
  const kafkajsRequest = kafkajsOriginal(path) as Request;
  const ours = require(path) as Request;
  const Long = require('kafkajs/src/utils/long') as { fromNumber(n: number): unknown };
  const message = (i: number, timestamp?: number | string) => ({ key: `k${i}`, value: Buffer.alloc(50 + i, i), headers: { 'x-i': String(i) }, ...(timestamp === undefined ? {} : { timestamp }) });
  const requests = [
    { acks: -1, timeout: 30000, transactionalId: 'app-3', producerId: Long.fromNumber(4711), producerEpoch: 2, topicData: [
      { topic: 'sink.crm', partitions: [{ partition: 3, firstSequence: 17, messages: [message(1, 1_790_000_000_500), message(2, 1_790_000_000_100), message(3, '1790000000900')] }] },
      { topic: 'audit.decisions', partitions: [{ partition: 3, messages: [message(4, 1_790_000_000_000)] }, { partition: 5, messages: Array.from({ length: 300 }, (_, i) => message(i, 1_790_000_000_000 + i)) }] },
      // Strings are written in place: non-ASCII ones, ASCII ones past the short-string loop, numbers as strings.
      { topic: 'sink.analytics', partitions: [{ partition: 0, messages: [
        { key: 'ünï-😀-\ud800', value: 'ß'.repeat(100), headers: { 'x-long': 'a'.repeat(65), 'x-64': 'b'.repeat(64), 'x-n': 42 as unknown as string, 'x-list': ['é', Buffer.from('raw')], 'x-null': null } },
      ] }] },
    ] },
    { acks: 1, timeout: 100, topicData: [{ topic: 't', partitions: [{ partition: 0, messages: [{ key: null, value: null }] }] }] }, // no timestamps: now
  ];
  const now = Date.now;
  Date.now = () => 1_790_000_001_234; // both stamp a batch without timestamps with the time of encoding
  try {
    for (const args of requests) {
      const [a, b] = [ours(args), kafkajsRequest(args)];
      assert.equal(a.apiKey, b.apiKey);
      assert.equal(a.apiVersion, b.apiVersion);
      const [x, y] = [(await a.encode()).buffer, (await b.encode()).buffer];
      const differs = x.findIndex((byte, i) => byte !== y[i]);
      assert.ok(x.length === y.length && differs < 0, `${x.length} vs ${y.length} bytes, first difference at ${differs}`);
    }
  } finally {
    Date.now = now;
  }
  // Framed in place (the request leaves room for its header), as kafkajs frames its own request.
  const framePath = require.resolve('kafkajs/src/protocol/request.js');
  const kafkajsFrame = kafkajsOriginal(framePath) as (o: object) => Promise<{ buffer: Buffer }>;
  Date.now = () => 1_790_000_001_234;
  try {
    for (const clientId of ['consentgate-worker-1', 'c'.repeat(100), 'c'.repeat(101), null]) {
      const [x, y] = [await frameRequest({ correlationId: 7, clientId, request: ours(requests[0]!) }), await kafkajsFrame({ correlationId: 7, clientId, request: kafkajsRequest(requests[0]!) })];
      assert.ok(x.buffer.equals(y.buffer), `client id of ${clientId?.length ?? 'null'} characters`);
    }
  } finally {
    Date.now = now;
  }
  // A compressed request is kafkajs' own.
  const gzip = { ...requests[1]!, compression: 1 };
  assert.deepEqual((await ours(gzip).encode()).buffer.length, (await kafkajsRequest(gzip).encode()).buffer.length);
});

it("kafkajs frames every request in one buffer of its exact size, byte for byte as kafkajs framed it", async () => {
  const path = require.resolve('kafkajs/src/protocol/request.js');
  type Frame = (o: { correlationId: number; clientId: string | null; request: { apiKey: number; apiVersion: number; encode(): Promise<{ buffer: Buffer }> } }) => Promise<{ buf: Buffer; buffer: Buffer }>;
  const kafkajsFrame = kafkajsOriginal(path) as Frame;
  assert.equal(require(path), frameRequest);
  const payloads = [Buffer.alloc(0), Buffer.from('a payload'), Buffer.alloc(3 * 1024 * 1024 + 17, 9)];
  for (const clientId of ['consentgate-worker-1', 'ünïcode', null]) {
    for (const payload of payloads) {
      const o = { correlationId: 2_147_483_000, clientId, request: { apiKey: 0, apiVersion: 3, encode: async () => ({ buf: payload, buffer: payload }) } };
      const [mine, theirs] = [await frameRequest(o), await kafkajsFrame(o)];
      assert.ok(mine.buffer.equals(theirs.buffer), `client ${clientId}, payload of ${payload.length} bytes`);
      assert.equal(mine.buf.length, mine.buffer.length);
    }
  }
});

it('CRC-32C eight bytes a step equals kafkajs\' byte-by-byte one', () => {
  const kafkajsCrc = require('kafkajs/src/protocol/recordBatch/crc32C/crc32C.js') as (b: Buffer) => number;
  for (const n of [0, 1, 7, 8, 9, 63, 64, 1000, 65_537]) {
    const b = Buffer.alloc(n);
    for (let i = 0; i < n; i++) b[i] = (i * 131 + n) & 0xff;
    assert.equal(crc32c(b), kafkajsCrc(b), `${n} bytes`);
    if (n > 10) assert.equal(crc32c(b, 3, n - 2), kafkajsCrc(b.subarray(3, n - 2)));
  }
  assert.equal(crc32c(Buffer.from('123456789')), 0xe3069283); // the standard check value
});

it("kafkajs' fetched records decode with offsets and times summed in numbers, as kafkajs decoded them", () => {
  const path = require.resolve('kafkajs/src/protocol/recordBatch/record/v0/decoder.js');
  type Decode = (decoder: unknown, context: object) => Record<string, unknown>;
  const kafkajsDecode = kafkajsOriginal(path) as Decode;
  const ours = require(path) as Decode;
  const Decoder = require('kafkajs/src/protocol/decoder') as new (b: Buffer) => { readVarInt(): number };
  const records = [
    { key: Buffer.from('c-1'), value: Buffer.from('v'), headers: { a: Buffer.from('1'), b: [Buffer.from('2'), Buffer.from('3')] }, offsetDelta: 5, timestampDelta: 1234 },
    { key: null, value: null, offsetDelta: 0, timestampDelta: -77 },
    { key: Buffer.from('x'), value: Buffer.alloc(1000, 3), offsetDelta: 70_000, timestampDelta: 2 ** 50 }, // past the fast path
  ];
  const contexts = [
    { firstOffset: '0', firstTimestamp: '1790000000000', maxTimestamp: '1790000009999', magicByte: 2, timestampType: 0 },
    { firstOffset: '9007199254740000', firstTimestamp: '-1', maxTimestamp: '5', magicByte: 2, isControlBatch: true, timestampType: 0 }, // offsets past 2^53
    { firstOffset: '42', firstTimestamp: '1790000000000', maxTimestamp: '1790000009999', magicByte: 2, timestampType: 1 }, // log append time
  ];
  for (const r of records) {
    for (const context of contexts) {
      const bytes = encodeRecord(r).buffer;
      const [a, b] = [new Decoder(bytes), new Decoder(bytes)];
      a.readVarInt(); // the record's length, which the batch decoder reads
      b.readVarInt();
      assert.deepEqual(ours(a, context), kafkajsDecode(b, context));
    }
  }
});

it("kafkajs' read_committed filter drops every aborted transaction's records, also when two producers' aborted transactions interleave", () => {
  const patched = require('kafkajs/src/consumer/filterAbortedMessages.js') as typeof filterAbortedMessages;
  assert.equal(patched, filterAbortedMessages);
  const original = kafkajsOriginal(require.resolve('kafkajs/src/consumer/filterAbortedMessages.js')) as typeof filterAbortedMessages;
  const ABORT = Buffer.from([0, 0, 0, 0]);
  const COMMIT = Buffer.from([0, 0, 0, 1]);
  const msg = (offset: number, producerId: string, value: string, control?: Buffer, key = Buffer.from('k')) =>
    ({ offset: String(offset), key: control ?? key, value, isControlRecord: control !== undefined, batchContext: { producerId, inTransaction: true } });
  const kept = (f: typeof filterAbortedMessages, messages: ReturnType<typeof msg>[], aborted: { firstOffset: string; producerId: string }[]) =>
    f({ messages, abortedTransactions: aborted }).filter((m) => !m.isControlRecord).map((m) => m.value);

  // One producer: aborted, committed, aborted again — both filters agree.
  const one = [msg(0, '7', 'x1'), msg(1, '7', 'x2'), msg(2, '7', '', ABORT), msg(3, '7', 'ok'), msg(4, '7', '', COMMIT), msg(5, '7', 'x3'), msg(6, '7', '', ABORT)];
  const oneAborted = [{ firstOffset: '0', producerId: '7' }, { firstOffset: '5', producerId: '7' }];
  assert.deepEqual(kept(filterAbortedMessages, one, oneAborted), ['ok']);
  assert.deepEqual(kept(original, one, oneAborted), ['ok']);
  // A data record whose key has the bytes of an abort marker does not end its transaction's aborted range.
  const lookalike = [msg(0, '7', 'x1', undefined, ABORT), msg(1, '7', 'x2'), msg(2, '7', '', ABORT)];
  assert.deepEqual(kept(filterAbortedMessages, lookalike, [{ firstOffset: '0', producerId: '7' }]), []);

  // Producer 1 starts first and aborts last; the broker lists aborted transactions by their markers' offsets.
  const two = [msg(0, '1', 'a1'), msg(1, '2', 'b1'), msg(2, '2', '', ABORT), msg(3, '1', '', ABORT), msg(4, '3', 'c'), msg(5, '3', '', COMMIT)];
  const twoAborted = [{ firstOffset: '1', producerId: '2' }, { firstOffset: '0', producerId: '1' }];
  assert.deepEqual(kept(filterAbortedMessages, two, twoAborted), ['c']);
  assert.deepEqual(kept(original, two, twoAborted), ['a1', 'c'], "kafkajs' own filter lets the aborted a1 through");

  // A fetch that starts inside two aborted transactions: both are aborted from its first record on.
  const inside = [msg(10, '2', 'b2'), msg(11, '1', 'a2'), msg(12, '1', '', ABORT), msg(13, '2', '', ABORT)];
  assert.deepEqual(kept(filterAbortedMessages, inside, [{ firstOffset: '3', producerId: '1' }, { firstOffset: '5', producerId: '2' }]), []);
});

it("kafkajs' murmur2 partitions every key as kafkajs did, in time linear in the key's length", () => {
  assert.equal(require('kafkajs/src/producer/partitioners/default/murmur2.js'), murmur2);
  const original = kafkajsOriginal(require.resolve('kafkajs/src/producer/partitioners/default/murmur2.js')) as (key: Buffer | string) => number;
  let seed = 7;
  const next = () => (seed = (Math.imul(seed, 48271) + 1) >>> 0) / 2 ** 32;
  for (let n = 0; n < 600; n++) {
    const length = n < 64 ? n : Math.floor(next() * 3000);
    const bytes = Buffer.from(Array.from({ length }, () => Math.floor(next() * 256)));
    assert.equal(murmur2(bytes), original(bytes), `${length} random bytes`);
    const text = `customer-${n}-${'é'.repeat(n % 7)}`;
    assert.equal(murmur2(text), original(text), text);
  }
  assert.equal(typeof murmur2(Buffer.alloc(250_000, 0x61)), 'number', 'a 250 KB key (kafkajs: ~2 minutes)');
});
