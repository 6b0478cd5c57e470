// GET /metrics: the engine's metrics (summed over its worker processes) and this process' own, in Prometheus' text
// format, through prom-client. The engine keeps plain series (runtime/metrics.ts) that add up across processes;
// this adapter names, documents and formats them.
import client from 'prom-client';
import type { EngineMetrics } from '../runtime/engine.ts';
import { BUCKET_BOUNDS_MS, type Histogram } from '../runtime/histogram.ts';
import { series, seriesByName } from '../runtime/metrics.ts';

/** The engine's latency histograms (kept in ms), as Prometheus histograms in seconds. */
const HISTOGRAMS: Record<string, { name: string; help: string }> = {
  decisionLatencyMs: { name: 'consentgate_decision_latency_seconds', help: "A stream record's timestamp to its decisions committed" },
  optOutPropagationMs: { name: 'consentgate_opt_out_propagation_seconds', help: "A withdrawal's record timestamp to its being applied to the consent table" },
  barrierWaitMs: { name: 'consentgate_barrier_wait_seconds', help: 'Waiting, per attempt, for the consent table to be confirmed current before stream records are decided' },
  transactionMs: { name: 'consentgate_transaction_duration_seconds', help: 'Committing one transaction (outputs, input offsets, commit)' },
};
/** Bucket bounds exposed (ms): bounds of the engine's own finer buckets, so every cumulative count is exact. */
const EXPOSED_BOUNDS_MS = [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10_000, 30_000, 60_000];

const HELP: Record<string, string> = {
  consentgate_records_in_total: 'Input records processed (decided, applied or dead-lettered), per topic',
  consentgate_decisions_total: 'Decisions, one per record and sink, by outcome and reason',
  consentgate_dead_letters_total: 'Input records sent to the dead-letter topic, per input topic and error code',
  consentgate_transactions_total: 'Transactions: committed, aborted (an attempt failed; retried or fatal) or refused (a record the broker refused; bisected)',
  consentgate_replay_changes_total: 'What a replay\'s new policy generation changes per sink: keep, retract (forwarded before, forbidden now), admit (late admission), reshape',
  consentgate_replay_skipped_total: 'Records a replay skipped: past_cutover (the live pipeline decides them), invalid (dead-lettered by it already)',
  consentgate_purge_retractions_total: 'Records named in RETRACTION purge requests (a replay found them forwarded under an older generation and forbidden now)',
  consentgate_policy_cutovers_total: 'Partitions of record topics the live pipeline switched to a later policy generation at a cutover marker',
  consentgate_records_held_total: 'Stream records held at least once because the consent table could not be confirmed current',
  consentgate_records_unconfirmed_total: 'Stream records blocked CONSENT_UNCONFIRMED after the maximum hold',
  consentgate_purge_commands_total: 'Purge commands sent to vendors',
  consentgate_purge_resends_total: 'Purge commands sent again to vendors that had not acknowledged',
  consentgate_purge_escalations_total: 'Purges past their vendor SLA, escalated',
  consentgate_purge_acks_ignored_total: 'Purge acknowledgements that matched no outstanding command',
  consentgate_held_records: 'Stream records held right now',
  consentgate_purge_outstanding: 'Purge commands a vendor has not completed yet',
  consentgate_purge_overdue: 'Purge commands a vendor has not completed within its SLA',
  consentgate_store_entries: 'Entries of each state store (consent.state is the consent table)',
  consentgate_restore_remaining_records: 'Changelog records left to restore, per partition (0 once restored)',
  consentgate_lag_seconds: 'Age of the oldest fetched record not yet processed, by cause: backlog, consent_wait (held for the consent table), replay (a replay\'s engine, consentgate replay --ops-port)',
  kafka_consumergroup_group_lag: 'Offsets not yet processed: last stable offset minus the first unprocessed offset (0 when fully processed: the position moves past commit markers; markers inside a backlog count)',
  kafka_consumergroup_group_lag_seconds: 'Age of the oldest record not yet processed (exact, from its timestamp)',
  kafka_consumergroup_group_max_lag: 'The largest partition lag of the group, in records',
  kafka_consumergroup_group_max_lag_seconds: 'The largest partition lag of the group, in seconds',
  consentgate_source_records_total: 'Source connector records: written to Kafka, dead-lettered, ignored (not for the pipeline) or duplicates dropped',
  consentgate_connector_events_total: 'Events a source connector received',
  consentgate_connector_gaps_total: 'Gaps in a source connector\'s event stream (each followed by a backfill)',
  consentgate_connector_backfilled_records_total: 'Records a source connector recovered by backfill after a gap',
  consentgate_genesys_requests_total: 'Requests to the Genesys Cloud API',
  consentgate_genesys_rate_limited_total: 'Genesys Cloud API answers 429 (rate limited)',
  consentgate_genesys_retries_total: 'Genesys Cloud API requests retried',
  consentgate_genesys_rate_budget_remaining: 'Genesys Cloud API requests the per-minute budget still allows',
  consentgate_session_outcomes_total: 'End-session commands executed, by outcome',
  consentgate_intake_requests_total: 'HTTP intake requests, by result',
  consentgate_identity_contacts: 'Contacts in the identity graph (identity.contacts) this process holds',
  consentgate_identity_pending_consents: 'Consent statements given by an identifier that resolves to nobody yet (consent.pending)',
  consentgate_identity_released_consents_total: 'Pending consent statements applied once their identifier resolved',
  consentgate_dpia_assessments_total: 'DPIA watcher assessments, by result',
  consentgate_dpia_artifacts: 'DPIA artifacts in the store, by compliance status (APPROVED_BY_REVIEW: approved by a reviewer)',
  consentgate_analytics_store_rows_total: 'Sink records the analytics store stored (once each)',
  consentgate_analytics_store_consent_states_total: 'Consent states mirrored into the analytics store',
  consentgate_analytics_store_purges_total: 'Purge commands the analytics store executed and acknowledged',
  consentgate_analytics_store_purged_rows_total: 'Rows the analytics store deleted for purge commands',
  consentgate_analytics_store_redelivered_batches_total: 'Batches delivered again that the analytics store had stored already (written once)',
  consentgate_analytics_api_total: 'Analytics read API: requests by result (ok, badRequest, unauthorized, forbidden) and rows given or withheld',
  consentgate_evidence_store_records_total: 'Records the evidence store wrote (once each)',
  consentgate_evidence_api_total: 'Evidence API requests, by result (ok, notFound, badRequest, unauthorized)',
  consentgate_workers: 'Engine worker processes running',
  consentgate_worker_restarts_total: 'Engine worker processes restarted after they died',
  consentgate_worker_resident_memory_bytes: 'Resident set size of each engine worker process',
};

type Sample = { labels: Record<string, string>; value: number; metricName?: string };
type Family = { name: string; help: string; type: 'counter' | 'gauge' | 'histogram'; values: Sample[] };

/** Series keys → families by name. */
function families(values: Record<string, number>, type: 'counter' | 'gauge'): Map<string, Family> {
  return new Map([...seriesByName(values)].map(([name, values]) => [name, { name, help: HELP[name] ?? name, type, values }]));
}

function histogramFamily(name: string, help: string, h: Histogram): Family {
  const values: Sample[] = [];
  let cumulative = 0;
  let next = 0;
  for (const boundMs of EXPOSED_BOUNDS_MS) {
    for (; next < BUCKET_BOUNDS_MS.length && BUCKET_BOUNDS_MS[next]! <= boundMs; next++) cumulative += h.counts[next]!;
    values.push({ metricName: `${name}_bucket`, labels: { le: String(boundMs / 1000) }, value: cumulative });
  }
  const count = h.counts.reduce((a, n) => a + n, 0);
  values.push({ metricName: `${name}_bucket`, labels: { le: '+Inf' }, value: count });
  values.push({ metricName: `${name}_sum`, labels: {}, value: h.sum / 1000 });
  values.push({ metricName: `${name}_count`, labels: {}, value: count });
  return { name, help, type: 'histogram', values };
}

/** The group's largest lag over its partitions (kafka-lag-exporter's *_max_lag), from the per-partition gauges. */
function maxLag(gauges: Map<string, Family>): Family[] {
  return (['', '_seconds'] as const).flatMap((unit) => {
    const perPartition = gauges.get(`kafka_consumergroup_group_lag${unit}`);
    if (!perPartition) return [];
    const byGroup = new Map<string, number>();
    for (const s of perPartition.values) byGroup.set(s.labels.group!, Math.max(byGroup.get(s.labels.group!) ?? 0, s.value));
    const name = `kafka_consumergroup_group_max_lag${unit}`;
    return [{ name, help: HELP[name]!, type: 'gauge' as const, values: [...byGroup].map(([group, value]) => ({ labels: { group }, value })) }];
  });
}

/** What the process serving /metrics knows besides the engine's metrics (worker processes, connectors). */
export interface ExtraMetrics {
  counters?: Record<string, number>;
  gauges?: Record<string, number>;
  help?: Record<string, string>;
}

/**
 * Renders the Prometheus text format: the engine's series, and this process' own (prom-client's default process
 * and Node.js metrics). No label carries customer data: labels are topics, sinks, outcomes, reasons, codes,
 * partitions and the group.
 */
export class PrometheusExporter {
  private readonly process: client.Registry;

  /** `worker`: this process' label among the processes of one `run` ("supervisor" beside worker processes). */
  constructor(o: { worker?: string } = {}) {
    this.process = processRegistry(o.worker);
  }

  get contentType(): string {
    return this.process.contentType;
  }

  /** `workerProcesses`: the worker processes' own process metrics (workerProcessMetrics' JSON), each labelled. */
  async render(m: EngineMetrics, extra: ExtraMetrics = {}, workerProcesses: unknown[][] = []): Promise<string> {
    const counters = families({
      ...m.counters,
      ...extra.counters,
      [series('consentgate_records_held_total')]: m.held,
      [series('consentgate_records_unconfirmed_total')]: m.unconfirmed,
    }, 'counter');
    const gauges = families({ ...m.gauges, ...extra.gauges }, 'gauge');
    const all: Family[] = [
      ...counters.values(),
      ...gauges.values(),
      ...maxLag(gauges),
      ...Object.entries(HISTOGRAMS).filter(([k]) => m.histograms[k]).map(([k, { name, help }]) => histogramFamily(name, help, m.histograms[k]!)),
    ];
    const engine = new client.Registry();
    for (const f of all) {
      if (extra.help?.[f.name]) f.help = extra.help[f.name]!;
      engine.registerMetric({ name: f.name, help: f.help, type: f.type, get: async () => ({ ...f, aggregator: 'sum' }) } as unknown as client.Metric);
    }
    const processes = workerProcesses.length
      ? client.AggregatorRegistry.aggregate<client.PrometheusContentType>([await this.process.getMetricsAsJSON(), ...workerProcesses])
      : this.process;
    return client.Registry.merge([processes, engine]).metrics();
  }
}

/** prom-client's default process and Node.js metrics, labelled worker="<worker>" when given. */
function processRegistry(worker?: string): client.Registry {
  const r = new client.Registry();
  if (worker !== undefined) r.setDefaultLabels({ worker });
  client.collectDefaultMetrics({ register: r });
  return r;
}

/** A worker process' own metrics as JSON for its supervisor (which serves them, labelled, beside its own). */
export function workerProcessMetrics(worker: number): () => Promise<unknown[]> {
  const r = processRegistry(String(worker));
  return () => r.getMetricsAsJSON();
}
