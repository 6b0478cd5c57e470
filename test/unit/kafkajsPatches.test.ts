import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { it } from 'node:test';
import '../../src/adapters/kafka.ts';
import { groupMessagesPerPartition } from '../../src/adapters/kafkajsPatches.ts';

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
