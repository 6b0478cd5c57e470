import Module, { createRequire } from 'node:module';

/**
 * kafkajs 2.2.4 (its last release) groups a produce batch's messages per partition by copying the partition's array
 * for every message — O(n²): 44 ms for 5,000 messages to one partition, paid on every task commit (a task writes a
 * cycle's decisions, sink records and changelog to its own partition). This puts a linear version of the same
 * function into the module cache before kafkajs loads the original, so it must be imported before 'kafkajs'
 * (src/adapters/kafka.ts imports it first). Same result: partition → its messages, in order.
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

const require = createRequire(import.meta.url);
const path = require.resolve('kafkajs/src/producer/groupMessagesPerPartition.js');
if (!require.cache[path]) {
  const patched = new Module(path);
  patched.filename = path;
  patched.loaded = true;
  patched.exports = groupMessagesPerPartition;
  require.cache[path] = patched;
}
