import { z } from 'zod';
import type { OutRecord } from '../adapters/kafka.ts';
import type { Logger } from '../adapters/logger.ts';
import type { SerdeRegistry } from '../adapters/schemaRegistry.ts';
import type { Clock } from '../domain/clock.ts';
import { INTEGRATION_ACTIONS, INTEGRATION_ENTITY_TYPES, type Mapped } from '../domain/genesysEvents.ts';
import { withResolvedSubject, type IdentityIndex } from '../domain/identity.ts';
import { checkConsentEvent, checkConversationRecord, Identifier, type Check } from '../domain/validation.ts';
import { boundedDeadLetter, DEFAULT_MAX_MESSAGE_BYTES, type DeadLetterValue } from '../runtime/deadLetters.ts';
import { recordBatchBytes } from '../runtime/records.ts';
import type { Topology } from '../runtime/topology.ts';

/** Where a mapped item came from: its connector, what it was (a Genesys topic, an endpoint) and its original bytes. */
export interface Origin {
  source: string;
  what: string;
  raw: Buffer;
}

export interface SinkStats {
  written: number;
  deadLettered: number;
  ignored: number;
  duplicates: number;
}

export interface Sender {
  send(records: OutRecord[]): Promise<void>;
}

const IntegrationChangeRules = z.object({
  changeId: z.string().min(1),
  integrationId: z.string().min(1),
  entityType: z.enum(INTEGRATION_ENTITY_TYPES),
  action: z.enum(INTEGRATION_ACTIONS),
  occurredAt: z.number().int().positive(),
  definition: z.string().nullable(),
});

type Keyed = Extract<Mapped, { key: string }>;
const TOPIC_OF: Record<Keyed['kind'], string> = {
  conversation: 'genesys.conversations', consent: 'consent.events', contact: 'identity.contacts', pending: 'consent.pending', integration: 'integrations.changes',
};

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A dead letter for input that never was a Kafka record: `topic` names the connector and what it read. */
export function deadLetterRecord(d: { topology: Topology; serdes: SerdeRegistry; clock: Clock }, origin: Origin, reason: string, key: string | null = null, code: DeadLetterValue['errorCode'] = 'VALIDATION_FAILED'): OutRecord {
  const value: DeadLetterValue = {
    topic: `${origin.source}:${origin.what}`,
    partition: -1,
    offset: '-1',
    key: key === null ? null : Buffer.from(key),
    value: origin.raw,
    headers: {},
    errorCode: code,
    error: reason.slice(0, 1000),
    processor: origin.source,
    failedAt: d.clock.now(),
  };
  return { topic: d.topology.topic('dlq').name, ...boundedDeadLetter(value, d.serdes.forTopic<DeadLetterValue>('dlq'), DEFAULT_MAX_MESSAGE_BYTES) };
}

/**
 * The one way source connectors write to Kafka: each mapped item is validated against the contract and encoded
 * with its topic's registered schema; invalid input goes to the dlq with its original bytes and the reason;
 * an id written recently (socket and backfill, an EventBridge retry) is written once. A failed send is retried
 * until it succeeds or the sink is stopped, so an acknowledged event is never dropped on the floor.
 */
export class SourceSink {
  readonly stats: SinkStats = { written: 0, deadLettered: 0, ignored: 0, duplicates: 0 };
  private readonly recent = new Map<string, true>();
  private stopped = false;

  constructor(private readonly d: {
    sender: Sender; topology: Topology; serdes: SerdeRegistry; clock: Clock; logger: Logger; recentIds?: number;
    /** The identity graph: conversation records are resolved through it (see resolve). */
    identity?: IdentityIndex;
  }) {}

  stop(): void {
    this.stopped = true;
  }

  private idOf(m: Keyed): string {
    if (m.kind === 'conversation') return `r:${m.value.recordId}`;
    if (m.kind === 'consent') return `c:${m.value.eventId}`;
    if (m.kind === 'contact') return `k:${m.value.contactId}:${m.value.identifiers.join(',')}`;
    if (m.kind === 'pending') return `p:${m.key}`;
    return `i:${m.value.changeId}`;
  }

  private check(m: Keyed): Check {
    if (m.kind === 'conversation') return checkConversationRecord(m.key, m.value);
    if (m.kind === 'consent') return checkConsentEvent(m.key, m.value);
    // The statement's own checks (its event id stands in for the customer it does not have yet).
    if (m.kind === 'pending') return checkConsentEvent(m.key, { ...m.value.statement, customerId: m.key });
    if (m.kind === 'contact') return Identifier.safeParse(m.value.contactId).success && m.key === m.value.contactId ? { ok: true } : { ok: false, reason: 'contact id: not a valid identifier' };
    const r = IntegrationChangeRules.safeParse(m.value);
    return r.success ? { ok: true } : { ok: false, reason: r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ') };
  }

  /** Writes a batch (in order) and resolves once the broker acknowledged all of it. */
  async write(items: { mapped: Mapped; origin: Origin }[]): Promise<SinkStats> {
    const out: OutRecord[] = [];
    const ids: string[] = [];
    const batch: SinkStats = { written: 0, deadLettered: 0, ignored: 0, duplicates: 0 };
    for (const { mapped, origin } of this.expand(items)) {
      const m = mapped.kind === 'conversation' ? this.resolve(mapped) : mapped;
      if (m.kind === 'ignored') {
        batch.ignored++;
        continue;
      }
      if (m.kind === 'invalid') {
        out.push(deadLetterRecord(this.d, origin, m.reason));
        batch.deadLettered++;
        continue;
      }
      const id = this.idOf(m);
      if (this.recent.has(id) || ids.includes(id)) {
        batch.duplicates++;
        continue;
      }
      const c = this.check(m);
      if (!c.ok) {
        out.push(deadLetterRecord(this.d, origin, c.reason, m.key));
        batch.deadLettered++;
        continue;
      }
      const logical = TOPIC_OF[m.kind];
      const record = { topic: this.d.topology.topic(logical).name, key: m.key, value: this.d.serdes.forTopic(logical).encode(m.value) };
      // The broker would refuse it for ever (and this sink retries a failed send until it succeeds).
      if (recordBatchBytes(record) > DEFAULT_MAX_MESSAGE_BYTES) {
        out.push(deadLetterRecord(this.d, origin, `encoded for ${logical} it takes ${recordBatchBytes(record)} bytes, over the broker's message.max.bytes (${DEFAULT_MAX_MESSAGE_BYTES})`, m.key, 'RECORD_TOO_LARGE'));
        batch.deadLettered++;
        continue;
      }
      out.push(record);
      ids.push(id);
      batch.written++;
    }
    // Claimed before the send, so a concurrent write of the same id (socket and backfill) skips it.
    for (const id of ids) this.remember(id);
    try {
      if (out.length) await this.sendUntilAcknowledged(out);
    } catch (err) {
      for (const id of ids) this.recent.delete(id);
      throw err;
    }
    for (const k of Object.keys(batch) as (keyof SinkStats)[]) this.stats[k] += batch[k];
    return batch;
  }

  /** A contact's consent comes with its identifiers: the identifiers are written first (identity.contacts). */
  private *expand(items: { mapped: Mapped; origin: Origin }[]): Generator<{ mapped: Mapped; origin: Origin }> {
    for (const item of items) {
      if (item.mapped.kind === 'consent' && item.mapped.contact) {
        yield { mapped: { kind: 'contact', key: item.mapped.contact.contactId, value: item.mapped.contact }, origin: item.origin };
      }
      yield item;
    }
  }

  /** A conversation record through the identity graph (domain/identity.ts); without a graph, records pass as they are. */
  private resolve(m: Extract<Mapped, { kind: 'conversation' }>): Extract<Mapped, { kind: 'conversation' }> {
    return this.d.identity ? { kind: 'conversation', ...withResolvedSubject(this.d.identity, m.value, m.key) } : m;
  }

  private async sendUntilAcknowledged(out: OutRecord[]): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.d.sender.send(out);
      } catch (err) {
        if (this.stopped) throw err;
        this.d.logger.warn({ err: (err as Error).message, attempt }, 'source sink: Kafka send failed, retrying');
        await sleep(Math.min(5000, 100 * 2 ** attempt));
      }
    }
  }

  private remember(id: string): void {
    this.recent.set(id, true);
    if (this.recent.size > (this.d.recentIds ?? 200_000)) this.recent.delete(this.recent.keys().next().value!);
  }
}
