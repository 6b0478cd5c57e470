import Module, { createRequire } from 'node:module';

// kafkajs 2.2.4 is its last release; two of its costs on our hot path are replaced here, in the module cache,
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
replace('kafkajs/src/producer/eosManager/index.js', (original) => withRememberedCoordinators(original() as (o: { cluster: Coordinators }) => EosManager));
