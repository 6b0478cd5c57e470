import { AnalyticsDb } from '../adapters/analyticsDb.ts';
import { EndOffsetReader, type Kafka } from '../adapters/kafka.ts';
import { scanTopic } from '../adapters/topicReader.ts';
import type { Logger } from '../adapters/logger.ts';
import type { SerdeRegistry } from '../adapters/schemaRegistry.ts';
import { storedSinks, storeProblems, storeVendor, type StoredRow } from '../domain/analyticsStore.ts';
import type { Clock } from '../domain/clock.ts';
import type { SinkRecord } from '../domain/fieldRules.ts';
import type { Policy } from '../domain/policy.ts';
import type { PurgeAck, PurgeCommand, Vendor } from '../domain/purge.ts';
import type { ConsentState } from '../domain/types.ts';
import { ConsentgateError } from '../errors.ts';
import { generationTopic, type Topology } from '../runtime/topology.ts';
import { dbConsumers } from './dbSink.ts';
import type { Sender } from './sink.ts';

export interface AnalyticsStoreStats {
  rows: number;
  consentStates: number;
  purges: number;
  purgedRows: number;
  deadLettered: number;
  /** Batches delivered again (after a crash or a rebalance) that the store had committed already: written once. */
  redelivered: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * The analytics store connector (the Kafka Connect JDBC sink pattern, exactly once): three consumers, each batch of a
 * partition committed to PostgreSQL with the partition's next offset in one transaction (AnalyticsDb.once), so a
 * crash neither loses nor duplicates a row, and a restart resumes from the database's offsets.
 * - the stored sinks' topics (of the policy's generation) → `<schema>_raw.sink_<sink>`;
 * - consent.state → `<schema>_raw.consent`, the table the reader views check at query time;
 * - purge.commands addressed to the store vendor → DELETE of the customer's rows, then COMPLETED on purge.acks.
 *   A purge first waits until the rows consumer has stored everything the sink topics held when the command was
 *   read: a record forwarded before the withdrawal cannot land after its purge.
 */
export async function startAnalyticsStore(o: {
  kafka: Kafka;
  topology: Topology;
  serdes: SerdeRegistry;
  policy: Policy;
  vendors: Vendor[];
  store: AnalyticsDb;
  sender: Sender;
  clock: Clock;
  logger: Logger;
}) {
  const problems = storeProblems(o.policy, o.vendors);
  if (problems.length) throw new ConsentgateError('CONFIG_INVALID', `the analytics store cannot start: ${problems.join('; ')}`);
  const vendor = storeVendor(o.vendors)!;
  const logger = o.logger.child({ component: 'analytics-store' });
  const stats: AnalyticsStoreStats = { rows: 0, consentStates: 0, purges: 0, purgedRows: 0, deadLettered: 0, redelivered: 0 };
  const group = `${o.topology.applicationId}-analytics-store`;
  const sinks = storedSinks(o.policy).map((s) => ({ sink: s, topic: generationTopic(o.topology.sinks.get(s.name)!, o.policy.generation) }));
  const sinkOf = new Map(sinks.map((s) => [s.topic, s.sink.name]));
  const consentTopic = o.topology.topic('consent.state').name;
  const commandsTopic = o.topology.topic('purge.commands').name;
  let stopping = false;

  await o.store.apply();

  const { decodeBatch, batchEnd, consume } = dbConsumers({ ...o, ledger: o.store.ledger, group, store: 'analytics store', stats, logger });

  const rows = await consume('rows', sinks.map((s) => s.topic), async (records) => {
    const end = batchEnd('rows', records);
    const sink = sinkOf.get(end.topic)!;
    const wrote = await o.store.ledger.once(end, async (tx, from) => {
      const decoded = await decodeBatch<SinkRecord>(records, o.topology.sinks.get(sink)!.logical, 'rows', from);
      const batch: StoredRow[] = decoded.filter((d) => d.value?.customerId).map(({ value: v }) => ({
        recordId: v!.recordId, customerId: v!.customerId!, conversationId: v!.conversationId, channel: v!.channel, occurredAt: v!.occurredAt, kind: v!.kind, generation: o.policy.generation, record: v,
      }));
      await o.store.insertRows(tx, sink, batch);
      stats.rows += batch.length;
    });
    if (!wrote) stats.redelivered++;
  });

  const consent = await consume('consent', [consentTopic], async (records) => {
    const wrote = await o.store.ledger.once(batchEnd('consent', records), async (tx, from) => {
      const decoded = await decodeBatch<ConsentState>(records, 'consent.state', 'consent', from);
      const changes = decoded.map(({ r, value }) => ({ customerId: value?.customerId ?? r.key?.toString('utf8') ?? '', state: value })).filter((c) => c.customerId);
      await o.store.mirrorConsent(tx, changes);
      stats.consentStates += changes.length;
    });
    if (!wrote) stats.redelivered++;
  });

  /**
   * Waits, heartbeating, until the rows consumer has stored every record the sink topics held a moment ago: where
   * its committed offset is below a partition's last stable offset, the records between are read, and it is caught
   * up once none of them is data (commit markers and aborted records are never stored).
   */
  const endOffsets = new EndOffsetReader(o.kafka, sinks.map((s) => s.topic));
  const rowsCaughtUp = async (heartbeat: () => Promise<void>) => {
    const ends = await endOffsets.read();
    for (const { topic } of sinks) {
      for (let waited = 0; !stopping; waited++) {
        const done = await o.store.ledger.committed('rows', topic);
        const until = new Map([...ends].filter(([tp, end]) => tp.startsWith(`${topic}:`) && end > (done.get(Number(tp.slice(topic.length + 1))) ?? 0n)).map(([tp, end]) => [Number(tp.slice(topic.length + 1)), end]));
        if (until.size === 0 || (await scanTopic(o.kafka, topic, () => {}, { from: done, until })) === 0) break;
        if (waited % 30 === 29) logger.warn({ topic }, 'a purge waits for the analytics store to store its sink topic first');
        await heartbeat();
        await sleep(1000);
      }
    }
  };

  const ackSerde = o.serdes.forTopic<PurgeAck>('purge.acks');
  const purges = await consume('purge', [commandsTopic], async (records, heartbeat) => {
    const end = batchEnd('purge', records);
    const mine = (await decodeBatch<PurgeCommand>(records, 'purge.commands', 'purge', end.from)).filter((d) => d.value?.vendor === vendor.name);
    if (mine.length) await rowsCaughtUp(heartbeat);
    const acks: PurgeAck[] = [];
    const wrote = await o.store.ledger.once(end, async (tx, from) => {
      for (const { r, value: c } of mine) {
        if (BigInt(r.offset) < from) continue;
        const purposes = new Set(c!.purposes);
        const covered = sinks.filter((s) => vendor.sinks.includes(s.sink.name) && (c!.reason === 'ERASURE' || s.sink.requires.some((p) => purposes.has(p)))).map((s) => s.sink.name);
        const deleted = await o.store.purge(tx, { commandId: c!.commandId, requestId: c!.requestId, customerId: c!.customerId, reason: c!.reason, sinks: covered, recordIds: c!.recordIds });
        stats.purges++;
        stats.purgedRows += deleted;
        acks.push({ requestId: c!.requestId, vendor: vendor.name, customerId: c!.customerId, status: 'COMPLETED', reason: `deleted ${deleted} row(s) from ${covered.join(', ') || 'no stored sink'}`, at: o.clock.now() });
      }
    });
    if (!wrote) stats.redelivered++;
    // After the commit: a crash before the ack leaves the command unacknowledged, and the purge topology re-sends it.
    if (acks.length) await o.sender.send(acks.map((a) => ({ topic: o.topology.topic('purge.acks').name, key: a.customerId, value: ackSerde.encode(a) })));
  });

  logger.info({ sinks: sinks.map((s) => s.topic), vendor: vendor.name }, 'analytics store connector started');
  return {
    stats,
    async stop() {
      stopping = true;
      await Promise.allSettled([rows.stop(), consent.stop(), purges.stop()]);
      await endOffsets.close();
    },
  };
}
