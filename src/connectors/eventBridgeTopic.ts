import type { Kafka } from '../adapters/kafka.ts';
import { consumeBatches } from '../adapters/kafka.ts';
import { mapNotification, unwrapEventBridge, type Mapped } from '../domain/genesysEvents.ts';
import type { Origin, SourceSink } from './sink.ts';

/**
 * EventBridge envelopes that a bridge (an EventBridge rule → Kafka, e.g. MSK Connect or a Lambda) wrote as JSON
 * to genesys.eventbridge → the same mapping as the WebSocket. At least once: offsets are committed after the sink
 * acknowledged the batch; ids are deterministic, so a replayed envelope is the same record.
 */
export async function startEventBridgeTopic(o: { kafka: Kafka; groupId: string; topic: string; sink: SourceSink; enrich?: (m: Mapped) => Promise<Mapped> }) {
  return consumeBatches(o.kafka, {
    groupId: o.groupId,
    topic: o.topic,
    async handle(records) {
      const items: { mapped: Mapped; origin: Origin }[] = [];
      for (const r of records) {
        const raw = r.value ?? Buffer.alloc(0);
        let inner: ReturnType<typeof unwrapEventBridge>;
        try {
          inner = unwrapEventBridge(JSON.parse(raw.toString('utf8')));
        } catch {
          inner = { ok: false, reason: 'value is not JSON' };
        }
        const origin: Origin = { source: 'eventbridge-topic', what: `${r.topic}[${r.partition}]@${r.offset}`, raw };
        const mapped: Mapped = inner.ok ? mapNotification(inner.topicName, inner.eventBody) : { kind: 'invalid', reason: inner.reason };
        items.push({ mapped: o.enrich ? await o.enrich(mapped).catch(() => mapped) : mapped, origin });
      }
      await o.sink.write(items);
    },
  });
}
