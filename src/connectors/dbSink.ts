import type { BatchEnd, OffsetLedger } from '../adapters/offsetLedger.ts';
import { consumeBatches, type Kafka } from '../adapters/kafka.ts';
import type { Logger } from '../adapters/logger.ts';
import type { SerdeRegistry } from '../adapters/schemaRegistry.ts';
import type { Clock } from '../domain/clock.ts';
import { boundedDeadLetter, DEFAULT_MAX_MESSAGE_BYTES, type DeadLetterValue } from '../runtime/deadLetters.ts';
import { isControl, type InRecord } from '../runtime/records.ts';
import type { Topology } from '../runtime/topology.ts';
import type { Sender } from './sink.ts';

/**
 * Consumers that write topics into a database exactly once (the analytics and evidence stores): each consumer
 * `<group>-<name>` resumes every partition from the ledger's offset, and a batch is written with its end in one
 * transaction (`ledger.once`). Records it cannot decode go to the dlq with their bytes and a reason.
 */
export function dbConsumers(o: { kafka: Kafka; topology: Topology; serdes: SerdeRegistry; ledger: OffsetLedger; sender: Sender; clock: Clock; logger: Logger; group: string; store: string; stats: { deadLettered: number } }) {
  const dlqSerde = o.serdes.forTopic<DeadLetterValue>('dlq');

  const deadLetter = async (r: InRecord, consumer: string, err: unknown) => {
    const value: DeadLetterValue = {
      topic: r.topic, partition: r.partition, offset: r.offset, key: r.key, value: r.value, headers: r.headers,
      errorCode: 'DESERIALIZATION_FAILED', error: `the ${o.store} could not read it: ${(err as Error).message}`.slice(0, 1000), processor: consumer, failedAt: o.clock.now(),
    };
    await o.sender.send([{ topic: o.topology.topic('dlq').name, ...boundedDeadLetter(value, dlqSerde, DEFAULT_MAX_MESSAGE_BYTES) }]);
    o.stats.deadLettered++;
    o.logger.warn({ topic: r.topic, partition: r.partition, offset: r.offset, err: (err as Error).message }, `record dead-lettered by the ${o.store}`);
  };

  return {
    /** Decodes a batch's data records (control records and records below `from` skipped; undecodable ones dead-lettered; tombstones null). */
    async decodeBatch<T>(records: InRecord[], logical: string, consumer: string, from: bigint): Promise<{ r: InRecord; value: T | null }[]> {
      const serde = o.serdes.forTopic<T>(logical);
      const out: { r: InRecord; value: T | null }[] = [];
      for (const r of records) {
        if (BigInt(r.offset) < from || isControl(r)) continue;
        if (r.value === null) {
          out.push({ r, value: null });
          continue;
        }
        try {
          out.push({ r, value: await serde.decode(r.value) });
        } catch (err) {
          await deadLetter(r, consumer, err);
        }
      }
      return out;
    },

    batchEnd(consumer: string, records: InRecord[]): BatchEnd {
      return { consumer, topic: records[0]!.topic, partition: records[0]!.partition, from: BigInt(records[0]!.offset), next: BigInt(records.at(-1)!.offset) + 1n };
    },

    consume(consumer: string, topics: string[], handle: (records: InRecord[], heartbeat: () => Promise<void>) => Promise<void>) {
      return consumeBatches(o.kafka, { groupId: `${o.group}-${consumer}`, topic: topics, fromBeginning: true, startAt: (topic, partition) => o.ledger.resumeAt(consumer, topic, partition), handle });
    },
  };
}
