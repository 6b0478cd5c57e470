import type { InRecord, Serde } from '../runtime/records.ts';
import { applyConsentEvent, receivedAt } from '../domain/consentState.ts';
import {
  applyAck, openRequest, purgeBacklog, slaTick, vendorsToPurge,
  type ComplianceRecord, type Lineage, type PurgeAck, type PurgeCommand, type PurgeEscalation, type Vendor,
} from '../domain/purge.ts';
import { PURPOSES, type ConsentEvent, type ConsentState, type Purpose } from '../domain/types.ts';
import { checkConsentEvent } from '../domain/validation.ts';
import type { ProcessorLogic } from '../runtime/builder.ts';
import { series } from '../runtime/metrics.ts';
import type { KeyValueStore, ProcessorContext } from '../runtime/processor.ts';

export interface ErasureRequest {
  requestId: string;
  customerId: string;
  requestedAt: number;
  source: string;
  keysDestroyed: number;
  genesysGdprRequestId: string | null;
}

/** purge.retractions (written by `consentgate replay`): one customer's records at one sink that the new generation forbids. */
export interface Retraction {
  requestId: string;
  customerId: string;
  sink: string;
  purposes: Purpose[];
  recordIds: string[];
  generation: number;
  policyVersion: string;
  replayId: string;
  requestedAt: number;
}

/** An erasure withdraws every purpose in the consent table (the live purge topology, and a replay's own table). */
export function applyErasure(consent: KeyValueStore<ConsentState>, r: ErasureRequest, input: InRecord, ctx: ProcessorContext): void {
  const withdrawAll: ConsentEvent = {
    eventId: `erasure:${r.requestId}`, customerId: r.customerId, capturedAt: r.requestedAt, source: 'API',
    purposes: PURPOSES.map((purpose) => ({ purpose, granted: false, channel: null })),
  };
  const applied = applyConsentEvent(consent.get(r.customerId), withdrawAll, ctx.clock.now(), receivedAt(input.timestamp, ctx.clock.now()));
  if (applied.changed) consent.put(r.customerId, applied.state);
}

/** A record with a vendor still to answer: the timer re-sends to it and escalates it. */
const isOpen = (c: ComplianceRecord | undefined): c is ComplianceRecord => c !== undefined && c.status !== 'FULLY_COMPLIANT' && c.status !== 'NO_OPEN_REQUESTS';
/**
 * Every this many ticks of the timer (1 s each: 10 minutes), the open records are found again by walking the whole
 * store (~1.1 s for 1M records; re-sends are due after hours).
 */
const RESCAN_EVERY = 600;

export interface PurgeDeps {
  consent: KeyValueStore<ConsentState>;
  lineage: KeyValueStore<Lineage>;
  compliance: KeyValueStore<ComplianceRecord>;
  vendors: Vendor[];
  topics: { consentEvents: string; erasures: string; acks: string; retractions: string };
  commands: { topic: string; serde: Serde<PurgeCommand> };
  escalations: { topic: string; serde: Serde<PurgeEscalation> };
}

/**
 * The purge topology. Inputs (all applied as tables, before any record of the cycle is decided, so an erasure
 * acknowledged before a record was produced is applied before that record is decided):
 * - consent.events, after the consent table: a purpose-level withdrawal that the table applied opens a purge request
 *   for the vendors whose sinks received this customer's data for that purpose;
 * - erasure.requests: withdraws every purpose in the consent table and opens a purge request for every vendor that
 *   received anything; the customer is marked erased;
 * - purge.retractions: records a replay found forwarded under an older policy generation and forbidden by the new
 *   one: a RETRACTION request, naming the records, to the vendors reading that sink;
 * - purge.acks: vendors' answers, applied to compliance.status.
 * A timer re-sends to silent vendors and escalates overdue ones (purge.escalations, metric consentgate_purge_escalations_total).
 * Request ids derive from their cause, so a replay issues nothing twice.
 *
 * The timer visits only the customers whose record may be open, not the whole store: the compliance store keeps a
 * record for every customer who ever withdrew, and walking millions of them every second in every task would be the
 * engine's largest fixed cost (2.5 s a tick for 1M records, 1 in 10,000 open; 0.1 ms now). They are found by walking
 * the store at the first tick and every RESCAN_EVERY-th after (a batch rolled back after the timer saw its record
 * closed leaves that record open unseen until then); a record put open in between joins them at once, a record found
 * closed leaves them.
 */
export function purgeProcessor(d: PurgeDeps): ProcessorLogic<ConsentEvent | ErasureRequest | Retraction | PurgeAck> {
  const sla = new Map(d.vendors.map((v) => [v.name, v.ackSlaMs]));
  const emit = (ctx: ProcessorContext, commands: PurgeCommand[]) => {
    for (const c of commands) ctx.emit({ topic: d.commands.topic, key: c.customerId, value: d.commands.serde.encode(c) });
    ctx.count('consentgate_purge_commands_total', commands.length);
  };
  const vendorNames = d.vendors.map((v) => v.name);
  /** Customers whose compliance record may be open (undefined until the timer's first walk of the store). */
  let maybeOpen: Set<string> | undefined;
  let ticks = 0;
  const putCompliance = (customerId: string, record: ComplianceRecord) => {
    d.compliance.put(customerId, record);
    if (isOpen(record)) maybeOpen?.add(customerId);
  };
  const open = (ctx: ProcessorContext, customerId: string, o: Omit<Parameters<typeof openRequest>[2], 'vendors' | 'now'> & { scope: Purpose[] | 'ALL' | { sink: string } }) => {
    const { scope } = o;
    const vendors = typeof scope === 'object' && 'sink' in scope ? d.vendors.filter((v) => v.sinks.includes(scope.sink)) : vendorsToPurge(d.lineage.get(customerId), scope, d.vendors);
    const r = openRequest(d.compliance.get(customerId), customerId, { ...o, vendors, now: ctx.clock.now() });
    if (!r) return;
    putCompliance(customerId, r.record);
    emit(ctx, r.commands);
  };

  return {
    process(input, value, ctx) {
      if (input.topic === d.topics.consentEvents) {
        const e = value as ConsentEvent;
        if (!checkConsentEvent(input.key?.toString('utf8') ?? null, e).ok) return;
        const state = d.consent.get(e.customerId);
        // Purpose-level withdrawals the table applied (a stale or duplicate event is not the current entry).
        const withdrawn = e.purposes
          .filter((p) => !p.granted && p.channel === null)
          .filter((p) => state?.purposes.find((x) => x.purpose === p.purpose)?.entry?.eventId === e.eventId)
          .map((p) => p.purpose);
        if (withdrawn.length) open(ctx, e.customerId, { requestId: `withdrawal:${e.eventId}`, reason: 'WITHDRAWAL', purposes: withdrawn, scope: withdrawn });
      } else if (input.topic === d.topics.erasures) {
        const r = value as ErasureRequest;
        if (!r.customerId || input.key?.toString('utf8') !== r.customerId) {
          ctx.deadLetter(input, 'VALIDATION_FAILED', 'erasure request key is not its customerId');
          return;
        }
        applyErasure(d.consent, r, input, ctx);
        open(ctx, r.customerId, { requestId: `erasure:${r.requestId}`, reason: 'ERASURE', purposes: [...PURPOSES], scope: 'ALL', erased: true });
      } else if (input.topic === d.topics.retractions) {
        const r = value as Retraction;
        if (!r.customerId || input.key?.toString('utf8') !== r.customerId) {
          ctx.deadLetter(input, 'VALIDATION_FAILED', 'retraction key is not its customerId');
          return;
        }
        open(ctx, r.customerId, { requestId: r.requestId, reason: 'RETRACTION', purposes: r.purposes, recordIds: r.recordIds, scope: { sink: r.sink } });
        ctx.count('consentgate_purge_retractions_total', r.recordIds.length);
      } else {
        const ack = value as PurgeAck;
        const next = applyAck(d.compliance.get(ack.customerId), ack, ctx.clock.now());
        if (next) putCompliance(ack.customerId, next);
        else ctx.count('consentgate_purge_acks_ignored_total');
      }
    },
    punctuate(ctx) {
      const now = ctx.clock.now();
      if (ticks++ % RESCAN_EVERY === 0 || !maybeOpen) {
        maybeOpen = new Set();
        for (const [customerId, record] of d.compliance.entries()) if (isOpen(record)) maybeOpen.add(customerId);
      }
      const openRecords: ComplianceRecord[] = [];
      for (const customerId of maybeOpen) {
        const record = d.compliance.get(customerId);
        if (!isOpen(record)) {
          maybeOpen.delete(customerId);
          continue;
        }
        const r = slaTick(record, now, (v) => sla.get(v) ?? 24 * 3_600_000);
        openRecords.push(r?.record ?? record);
        if (!r) continue;
        putCompliance(customerId, r.record);
        emit(ctx, r.commands);
        ctx.count('consentgate_purge_resends_total', r.commands.length);
        for (const e of r.escalations) ctx.emit({ topic: d.escalations.topic, key: e.customerId, value: d.escalations.serde.encode(e) });
        ctx.count('consentgate_purge_escalations_total', r.escalations.length);
      }
      // A closed record has no vendor left to answer: the backlog is the open records'.
      for (const [vendor, b] of purgeBacklog(openRecords, vendorNames, now)) {
        ctx.gauge(series('consentgate_purge_outstanding', { vendor }), b.outstanding);
        ctx.gauge(series('consentgate_purge_overdue', { vendor }), b.overdue);
      }
    },
  };
}
