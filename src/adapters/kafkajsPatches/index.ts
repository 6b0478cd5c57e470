import Module, { createRequire } from 'node:module';
import { batchWithLastStableOffset, decodeRecord, filterAbortedMessages, reportingFetchedEnds, withPartitionsFetchedEvent } from './fetch.ts';
import { murmur2 } from './partitioner.ts';
import { encodeRecord, frameRequest, groupMessagesPerPartition, produceRequest, type KafkaLong, type ProduceRequestArgs } from './produce.ts';
import { withRememberedCoordinators, type Coordinators, type EosManager } from './transactions.ts';

// kafkajs 2.2.4 is its last release; six of its costs on our hot path, a partitioner quadratic in the key's length
// and one bug (read_committed letting aborted records through) are replaced here, and what it drops of each fetch
// response (its partitions' last stable offsets) is reported, all in the module cache, before
// kafkajs loads (so this must be imported before 'kafkajs': src/adapters/kafka.ts imports it first). Each cost's
// replacement gives kafkajs the same bytes, objects or partitions as its own code (test/unit/kafkajsPatches.test.ts
// compares them with kafkajs' originals); `npm run bench` prints the raw round trip with and without them.

const require = createRequire(import.meta.url);

/**
 * Puts `exports(loadOriginal)` into the module cache as the module at `modulePath`. Once kafkajs has loaded the
 * original, its modules hold it and a replacement would change nothing, silently: that is an error.
 */
function replace(modulePath: string, exports: (loadOriginal: () => unknown) => unknown): void {
  const path = require.resolve(modulePath);
  const cached = require.cache[path] as { patched?: boolean } | undefined;
  if (cached?.patched) return;
  if (cached) throw new Error(`kafkajs was loaded before consentgate's patches of it (${modulePath}): import kafkajs only through src/adapters/kafka.ts`);
  const patched = Object.assign(new Module(path), { filename: path, loaded: true, patched: true });
  patched.exports = exports(() => require(path));
  require.cache[path] = patched;
}
replace('kafkajs/src/producer/groupMessagesPerPartition.js', () => groupMessagesPerPartition);
replace('kafkajs/src/producer/partitioners/default/murmur2.js', () => murmur2);
replace('kafkajs/src/protocol/recordBatch/record/v0/index.js', () => encodeRecord);
type LongModule = { fromValue(v: unknown): KafkaLong & { add(n: unknown): { toString(): string } } };
let long: LongModule | undefined;
/** kafkajs' Long, loaded on first use (not at import: kafkajs is not loaded yet) and kept — a require() a call was 1.5% of the CPU. */
const Long = () => (long ??= require('kafkajs/src/utils/long') as LongModule);
replace('kafkajs/src/protocol/recordBatch/record/v0/decoder.js', () => decodeRecord((v) => Long().fromValue(v)));
replace('kafkajs/src/protocol/requests/produce/v3/request.js', (original) => {
  return produceRequest({
    longOf: (v) => Long().fromValue(v),
    produceApiKey: (require('kafkajs/src/protocol/requests/apiKeys') as { Produce: number }).Produce,
    noCompression: (require('kafkajs/src/protocol/message/compression') as { Types: { None: number } }).Types.None,
  }, original() as (args: ProduceRequestArgs) => unknown);
});
replace('kafkajs/src/protocol/request.js', () => frameRequest);
replace('kafkajs/src/consumer/filterAbortedMessages.js', () => filterAbortedMessages);
// Each fetch reports its partitions' last stable offsets (consumer.on(PARTITIONS_FETCHED)): the barrier's end offsets.
replace('kafkajs/src/consumer/instrumentationEvents.js', (original) => withPartitionsFetchedEvent(original() as { events: Record<string, string> }));
replace('kafkajs/src/consumer/batch.js', (original) => batchWithLastStableOffset(original() as Parameters<typeof batchWithLastStableOffset>[0]));
replace('kafkajs/src/consumer/consumerGroup.js', (original) => reportingFetchedEnds(original() as Parameters<typeof reportingFetchedEnds>[0]));
replace('kafkajs/src/producer/eosManager/index.js', (original) => withRememberedCoordinators(original() as (o: { cluster: Coordinators }) => EosManager));
