import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { it } from 'node:test';
import '../../src/adapters/kafka.ts';
import { groupMessagesPerPartition, withRememberedCoordinators } from '../../src/adapters/kafkajsPatches.ts';

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
