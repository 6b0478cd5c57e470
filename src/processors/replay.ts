import type { SinkPolicy, Policy } from '../domain/policy.ts';
import type { Lineage } from '../domain/purge.ts';
import { changeOf, type ReplayChange } from '../domain/replay.ts';
import type { ConversationRecord, ExportRecord, Purpose } from '../domain/types.ts';
import { checkConversationRecord } from '../domain/validation.ts';
import type { ProcessorLogic } from '../runtime/builder.ts';
import { series } from '../runtime/metrics.ts';
import type { Serde } from '../runtime/records.ts';
import { sinkDecider, type DeciderDeps } from './enforcement.ts';
import type { Retraction } from './purge.ts';

export interface ReplayDeps extends DeciderDeps {
  /** The new generation's policy, and the generation the live pipeline served before it. */
  policy: Policy;
  previous: Policy;
  replayId: string;
  /** Where the live pipeline cut a partition of a record topic over to the new generation: the replay decides the records below. */
  cutover(topic: string, partition: number): bigint;
  /** The sinks a record reached under the previous generation (its FORWARDED decisions there). */
  forwardedBefore(recordId: string): ReadonlySet<string> | undefined;
  retractions: { topic: string; serde: Serde<Retraction> };
  deliveries: { topic: string; serde: Serde<Lineage> };
}

/** consentgate_replay_changes_total{sink,change}: what the new generation changes at each sink (as `replay --dry-run` counts it). */
export const changeSeries = (sink: string, change: ReplayChange) => series('consentgate_replay_changes_total', { sink, change });

/**
 * Builds a new policy generation from retained records: each record below its partition's cutover is decided under
 * the new policy against the replay's own consent table (folded from consent.events and erasure.requests, like the
 * live one), with its decisions (generation, replay id) and the permitted records on the new generation's sink topics.
 * Per transaction (flush): one retraction per customer and sink for the records that sink received under the previous
 * generation and the new policy forbids, and the forwards as lineage deliveries. Records at or past the cutover are
 * the live pipeline's; invalid ones were dead-lettered by it already: both are skipped.
 */
export function replayProcessor(d: ReplayDeps): ProcessorLogic<ConversationRecord | ExportRecord> {
  const decider = sinkDecider(d);
  const g = decider.governing(d.policy);
  const oldSinks = new Map(d.previous.sinks.map((s) => [s.name, s]));
  const allSinks = [...new Set([...oldSinks.keys(), ...g.policy.sinks.map((s) => s.name)])];
  /** This transaction's retractions and deliveries, by customer and sink. */
  let retracted = new Map<string, { customerId: string; sink: string; purposes: Set<Purpose>; recordIds: string[] }>();
  let delivered = new Map<string, Lineage>();
  const skipped = (why: string) => series('consentgate_replay_skipped_total', { reason: why });
  return {
    prepare: (records) => decider.prepare(g, records),
    process(input, record, ctx) {
      if (BigInt(input.offset) >= d.cutover(input.topic, ctx.partition)) return void ctx.count(skipped('past_cutover'));
      if (!checkConversationRecord(input.key?.toString('utf8') ?? null, record).ok) return void ctx.count(skipped('invalid'));
      const before = d.forwardedBefore(record.recordId);
      const forwarded = new Set<SinkPolicy>();
      decider.decide(g, input, record, ctx, {
        replayId: d.replayId,
        forwarded: (sink, now) => {
          forwarded.add(sink);
          const l = delivered.get(record.customerId!) ?? { customerId: record.customerId!, sinks: [], updatedAt: now };
          const s = l.sinks.find((x) => x.sink === sink.name);
          if (s) Object.assign(s, { records: s.records + 1, lastAt: now });
          else l.sinks.push({ sink: sink.name, purposes: [...sink.requires], records: 1, firstAt: now, lastAt: now });
          delivered.set(record.customerId!, l);
        },
        blocked: (sink, denied) => {
          if (!before?.has(sink.name) || !record.customerId) return;
          const key = `${record.customerId}\u0000${sink.name}`;
          const r = retracted.get(key) ?? { customerId: record.customerId, sink: sink.name, purposes: new Set<Purpose>(), recordIds: [] };
          for (const p of denied) r.purposes.add(p);
          r.recordIds.push(record.recordId);
          retracted.set(key, r);
        },
      });
      for (const sink of allSinks) {
        const now = [...forwarded].find((s) => s.name === sink);
        ctx.count(changeSeries(sink, changeOf({ forwarded: before?.has(sink) ?? false, sink: oldSinks.get(sink) }, now)));
      }
    },
    flush(ctx) {
      const now = ctx.clock.now();
      for (const r of retracted.values()) {
        const retraction: Retraction = {
          requestId: `retraction:g${d.policy.generation}:${r.sink}:${r.recordIds[0]}`, customerId: r.customerId, sink: r.sink,
          purposes: [...r.purposes], recordIds: r.recordIds, generation: d.policy.generation, policyVersion: d.policy.version, replayId: d.replayId, requestedAt: now,
        };
        ctx.emit({ topic: d.retractions.topic, key: r.customerId, partition: ctx.partition, value: d.retractions.serde.encode(retraction) });
      }
      for (const l of delivered.values()) ctx.emit({ topic: d.deliveries.topic, key: l.customerId, partition: ctx.partition, value: d.deliveries.serde.encode(l) });
      retracted = new Map();
      delivered = new Map();
    },
  };
}
