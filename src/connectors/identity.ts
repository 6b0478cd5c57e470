import type { Kafka, OutRecord } from '../adapters/kafka.ts';
import { consumeBatches } from '../adapters/kafka.ts';
import type { Logger } from '../adapters/logger.ts';
import type { SerdeRegistry } from '../adapters/schemaRegistry.ts';
import { followTopic } from '../adapters/topicReader.ts';
import type { Clock } from '../domain/clock.ts';
import { IdentityIndex, resolveConsent, type ContactIdentity, type IdentifierKey, type PendingConsent } from '../domain/identity.ts';
import type { ConsentEvent } from '../domain/types.ts';
import type { Topology } from '../runtime/topology.ts';
import type { Sender } from './sink.ts';

/**
 * The identity graph of this process: identity.contacts followed from its start as a global table (every process
 * holds all of it, as Kafka Streams' GlobalKTable). `start` resolves once the table is caught up with the topic's
 * end at start; listeners hear which identifiers changed owner afterwards.
 */
export class IdentityGraph {
  readonly index = new IdentityIndex();
  private readonly listeners: ((changed: IdentifierKey[]) => void)[] = [];
  private follower?: { stop(): Promise<void> };

  static async start(o: { kafka: Kafka; topology: Topology; serdes: SerdeRegistry; logger: Logger }): Promise<IdentityGraph> {
    const graph = new IdentityGraph();
    const serde = o.serdes.forTopic<ContactIdentity>('identity.contacts');
    const began = performance.now();
    const f = await followTopic(o.kafka, o.topology.topic('identity.contacts').name, async (records) => {
      for (const r of records) {
        // A record this version cannot read is the source connector's to dead-letter: it wrote it; skip it here.
        const c = r.value ? await serde.decode(r.value).catch(() => undefined) : undefined;
        if (c) graph.applyContact(c);
      }
    });
    graph.follower = f;
    await f.caughtUp;
    o.logger.info({ contacts: graph.index.contacts, ms: Math.round(performance.now() - began) }, 'identity graph restored');
    return graph;
  }

  applyContact(c: ContactIdentity): void {
    const changed = this.index.apply(c);
    if (changed.length) for (const l of this.listeners) l(changed);
  }

  onChange(listener: (changed: IdentifierKey[]) => void): void {
    this.listeners.push(listener);
  }

  async stop(): Promise<void> {
    await this.follower?.stop();
  }
}

/**
 * Applies the consent statements on consent.pending once their identifier resolves (a contact with it appeared, or
 * all but one contact dropped it): the statement goes to consent.events under that customer (a withdrawal through any
 * link, a grant only through a strong one), then its pending record is tombstoned. At least once: a crash between
 * the two sends it again under the same event id, which the consent table applies once.
 *
 * consent.pending has one partition, so one instance holds it; that instance re-reads it whole on assignment.
 */
export async function startPendingResolver(o: { kafka: Kafka; topology: Topology; serdes: SerdeRegistry; graph: IdentityGraph; sender: Sender; clock: Clock; logger: Logger }) {
  const pendingTopic = o.topology.topic('consent.pending').name;
  const pendingSerde = o.serdes.forTopic<PendingConsent>('consent.pending');
  const eventSerde = o.serdes.forTopic<ConsentEvent>('consent.events');
  const pending = new Map<string, PendingConsent>();
  const stats = { pending: 0, released: 0, refused: 0 };
  const logger = o.logger.child({ component: 'identity-resolver' });
  let work = Promise.resolve();

  /** Releases what resolves now, one at a time (a release and the next batch never interleave). */
  const release = (eventIds: string[]) => (work = work.then(async () => {
    for (const id of eventIds) {
      const p = pending.get(id);
      if (!p) continue;
      const r = resolveConsent(o.graph.index, p.identifier, p.statement);
      if (r.kind === 'pending') continue;
      const out: OutRecord[] = [];
      if (r.kind === 'apply') out.push({ topic: o.topology.topic('consent.events').name, key: r.event.customerId, value: eventSerde.encode({ ...r.event, resolvedBy: r.resolution }) });
      else stats.refused++;
      out.push({ topic: pendingTopic, key: id, value: null });
      await o.sender.send(out);
      pending.delete(id);
      stats.released += r.kind === 'apply' ? 1 : 0;
      logger.info({ eventId: id, identifier: r.resolution.identifier, link: r.resolution.link, applied: r.kind === 'apply' }, 'pending consent resolved');
    }
    stats.pending = pending.size;
  }).catch((err: Error) => logger.error({ err: err.message }, 'releasing pending consent failed; retried on the next change')));

  o.graph.onChange((changed) => {
    const set = new Set(changed);
    const ids = [...pending].filter(([, p]) => set.has(p.identifier)).map(([id]) => id);
    if (ids.length) void release(ids);
  });

  const consumer = await consumeBatches(o.kafka, {
    groupId: `${o.topology.applicationId}-identity-resolver`,
    topic: pendingTopic,
    // A table: every assignment reads it from its start (released statements are tombstones by then).
    startAt: async () => { pending.clear(); return 0n; },
    handle: async (records) => {
      const arrived: string[] = [];
      for (const r of records) {
        const id = r.key?.toString('utf8');
        if (!id) continue;
        if (r.value === null) pending.delete(id);
        else {
          pending.set(id, await pendingSerde.decode(r.value));
          arrived.push(id);
        }
      }
      await release(arrived);
    },
  });
  return {
    stats,
    async stop() {
      await consumer.stop();
      await work;
    },
  };
}
