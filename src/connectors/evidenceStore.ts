import type { EvidenceDb } from '../adapters/evidenceDb.ts';
import type { Kafka } from '../adapters/kafka.ts';
import type { Logger } from '../adapters/logger.ts';
import type { Queryable } from '../adapters/postgres.ts';
import type { SerdeRegistry } from '../adapters/schemaRegistry.ts';
import type { Clock } from '../domain/clock.ts';
import type { InRecord } from '../runtime/records.ts';
import type { Topology } from '../runtime/topology.ts';
import { dbConsumers } from './dbSink.ts';
import type { Sender } from './sink.ts';

/** The topics the evidence store keeps, and how each batch is written. */
type Writer = (db: EvidenceDb, tx: Queryable, decoded: { r: InRecord; value: unknown }[], pseudonym: (key: string) => string) => Promise<void>;
const values = <T>(decoded: { value: unknown }[]) => decoded.map((d) => d.value).filter((v): v is T => v !== null);
const WRITERS: Record<string, Writer> = {
  'audit.decisions': (db, tx, d) => db.decisions(tx, values(d)),
  'consent.events': (db, tx, d) => db.consentEvents(tx, d.filter((x) => x.value).map((x) => ({ event: x.value as never, receivedAt: Number(x.r.timestamp) }))),
  'consent.state': (db, tx, d) => db.consentStates(tx, values(d)),
  'identity.contacts': (db, tx, d, pseudonym) => db.identities(tx, d.map((x) => (x.value ?? { contactId: x.r.key?.toString('utf8') ?? '', identifiers: [], deleted: true, modifiedAt: 0 }) as never), pseudonym),
  'purge.commands': (db, tx, d) => db.purgeCommands(tx, values(d)),
  'purge.acks': (db, tx, d) => db.purgeAcks(tx, values(d)),
  'session.commands': (db, tx, d) => db.sessionCommands(tx, values(d)),
  'session.outcomes': (db, tx, d) => db.sessionOutcomes(tx, values(d)),
  'erasure.requests': (db, tx, d) => db.erasures(tx, values(d)),
  'dpia.events': (db, tx, d) => db.dpiaEvents(tx, values(d)),
};

/**
 * The evidence store connector: consent events and states, decisions, purge commands and acknowledgements, session
 * commands and outcomes, erasures, contacts' identifiers (as pseudonyms) and DPIA events → the evidence store, each
 * batch of a partition written with its offset in one transaction (exactly once across crashes and rebalances).
 * Decisions have a consumer of their own, so their volume never delays the rest.
 */
export async function startEvidenceStore(o: { kafka: Kafka; topology: Topology; serdes: SerdeRegistry; store: EvidenceDb; pseudonym: (identifierKey: string) => string; sender: Sender; clock: Clock; logger: Logger }) {
  const logger = o.logger.child({ component: 'evidence-store' });
  const stats = { records: 0, redelivered: 0, deadLettered: 0 };
  await o.store.apply();
  const { decodeBatch, batchEnd, consume } = dbConsumers({ ...o, ledger: o.store.ledger, group: `${o.topology.applicationId}-evidence-store`, store: 'evidence store', stats, logger });
  const logicalOf = new Map(Object.keys(WRITERS).map((l) => [o.topology.topic(l).name, l]));
  const handle = (consumer: string) => async (records: InRecord[]) => {
    const end = batchEnd(consumer, records);
    const logical = logicalOf.get(end.topic)!;
    const wrote = await o.store.ledger.once(end, async (tx, from) => {
      const decoded = await decodeBatch(records, logical, consumer, from);
      await WRITERS[logical]!(o.store, tx, decoded, o.pseudonym);
      stats.records += decoded.length;
    });
    if (!wrote) stats.redelivered++;
  };
  const topics = (ls: string[]) => ls.map((l) => o.topology.topic(l).name);
  const consumers = [
    await consume('decisions', topics(['audit.decisions']), handle('decisions')),
    await consume('facts', topics(Object.keys(WRITERS).filter((l) => l !== 'audit.decisions')), handle('facts')),
  ];
  logger.info('evidence store connector started');
  return {
    stats,
    async stop() {
      await Promise.allSettled(consumers.map((c) => c.stop()));
    },
  };
}
