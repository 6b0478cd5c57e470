import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PrometheusExporter } from '../../src/adapters/prometheus.ts';
import type { EngineMetrics } from '../../src/runtime/engine.ts';
import { emptyHistogram, observe } from '../../src/runtime/histogram.ts';
import { parseSeries, series } from '../../src/runtime/metrics.ts';

describe('metric series and the Prometheus exposition', () => {
  it('a series key holds its labels sorted and escaped, and parses back', () => {
    const key = series('consentgate_dead_letters_total', { topic: 'a"b\\c', code: 'X' });
    assert.equal(key, 'consentgate_dead_letters_total{code="X",topic="a\\"b\\\\c"}');
    assert.deepEqual(parseSeries(key), { name: 'consentgate_dead_letters_total', labels: { code: 'X', topic: 'a"b\\c' } });
    assert.deepEqual(parseSeries('consentgate_held_records'), { name: 'consentgate_held_records', labels: {} });
  });

  it('renders counters, gauges, histograms in seconds with exact cumulative buckets, and the group\'s max lag', async () => {
    const h = emptyHistogram();
    for (const ms of [3, 3, 40, 700, 70_000]) observe(h, ms);
    const m: EngineMetrics = {
      committedTransactions: 4, processedRecords: 10, deadLettered: 1, held: 2, unconfirmed: 0, assignedPartitions: [0, 1],
      counters: { [series('consentgate_decisions_total', { sink: 'crm', outcome: 'FORWARDED', reason: 'CONSENT_GRANTED' })]: 7 },
      histograms: { decisionLatencyMs: h },
      gauges: {
        [series('kafka_consumergroup_group_lag', { group: 'g', topic: 't', partition: 0 })]: 5,
        [series('kafka_consumergroup_group_lag', { group: 'g', topic: 't', partition: 1 })]: 12,
        [series('kafka_consumergroup_group_lag_seconds', { group: 'g', topic: 't', partition: 0 })]: 0.25,
        [series('kafka_consumergroup_group_lag_seconds', { group: 'g', topic: 't', partition: 1 })]: 1.5,
      },
    };
    const text = await new PrometheusExporter().render(m, { gauges: { [series('consentgate_workers')]: 2 } });
    const line = (s: string) => assert.ok(text.split('\n').includes(s), `missing line: ${s}`);
    line('# TYPE consentgate_decisions_total counter');
    line('consentgate_decisions_total{outcome="FORWARDED",reason="CONSENT_GRANTED",sink="crm"} 7');
    line('consentgate_records_held_total 2');
    line('# TYPE consentgate_decision_latency_seconds histogram');
    line('consentgate_decision_latency_seconds_bucket{le="0.005"} 2');
    line('consentgate_decision_latency_seconds_bucket{le="0.05"} 3');
    line('consentgate_decision_latency_seconds_bucket{le="1"} 4');
    line('consentgate_decision_latency_seconds_bucket{le="60"} 4');
    line('consentgate_decision_latency_seconds_bucket{le="+Inf"} 5');
    line('consentgate_decision_latency_seconds_count 5');
    line('consentgate_decision_latency_seconds_sum 70.746');
    line('kafka_consumergroup_group_lag{group="g",partition="1",topic="t"} 12');
    line('kafka_consumergroup_group_max_lag{group="g"} 12');
    line('kafka_consumergroup_group_max_lag_seconds{group="g"} 1.5');
    line('consentgate_workers 2');
    assert.match(text, /^process_cpu_user_seconds_total \d/m, "the serving process' own metrics (prom-client defaults)");
  });
});
