import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import Module, { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { it } from 'node:test';
import '../../src/adapters/kafka.ts';
import { encodeRecord, groupMessagesPerPartition, withRememberedCoordinators } from '../../src/adapters/kafkajsPatches.ts';

const require = createRequire(import.meta.url);

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

it("kafkajs' produce requests encode each record into one buffer of its exact size, byte for byte as kafkajs did", () => {
  // kafkajs' own encoder, compiled from its source (the module cache holds the replacement).
  const path = require.resolve('kafkajs/src/protocol/recordBatch/record/v0/index.js');
  const original = new Module(path) as Module & { _compile(code: string, file: string): void };
  original.filename = path;
  original.paths = (Module as unknown as { _nodeModulePaths(dir: string): string[] })._nodeModulePaths(dirname(path));
  original._compile(readFileSync(path, 'utf8'), path);
  const kafkajsRecord = original.exports as (r: object) => { buffer: Buffer };
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
