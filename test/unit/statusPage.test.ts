import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { EngineMetrics } from '../../src/runtime/engine.ts';
import { series } from '../../src/runtime/metrics.ts';
import { DecisionHistory, statusModel } from '../../src/statusPage.ts';

const decided = (n: number, reason = 'CONSENT_GRANTED', outcome = 'FORWARDED') => ({ [series('consentgate_decisions_total', { sink: 'crm', outcome, reason })]: n });

describe('status page model', () => {
  it('plots per-interval decision rates by outcome and reason; a worker restart is not a negative rate', () => {
    const h = new DecisionHistory(5000, 3);
    h.sample(decided(0), 0);
    h.sample(decided(50), 5000);
    h.sample({ ...decided(40), ...decided(10, 'CONSENT_WITHDRAWN', 'BLOCKED') }, 10_000);
    h.sample({ ...decided(90), ...decided(10, 'CONSENT_WITHDRAWN', 'BLOCKED') }, 15_000);
    h.sample(decided(90), 20_000); // the oldest sample falls out (keep 3 intervals)
    const v = h.view();
    assert.deepEqual(v.at, [10_000, 15_000, 20_000]);
    assert.deepEqual(v.series, [
      { key: 'BLOCKED:CONSENT_WITHDRAWN', perSecond: [2, 0, 0] },
      { key: 'FORWARDED:CONSENT_GRANTED', perSecond: [0, 10, 0] },
    ]);
  });

  it('builds lag rows with what they wait on, purge per vendor, and the decisions as the counters have them', () => {
    const labels = { group: 'g', topic: 't', partition: 2 };
    const m: EngineMetrics = {
      committedTransactions: 0, processedRecords: 0, deadLettered: 0, held: 0, unconfirmed: 0, assignedPartitions: [2],
      counters: decided(7), histograms: {},
      gauges: {
        [series('kafka_consumergroup_group_lag', labels)]: 12,
        [series('kafka_consumergroup_group_lag_seconds', labels)]: 3.5,
        [series('consentgate_lag_seconds', { ...labels, cause: 'consent_wait' })]: 3.5,
        [series('consentgate_lag_seconds', { ...labels, cause: 'backlog' })]: 0,
        [series('consentgate_purge_outstanding', { vendor: 'crm-sync' })]: 2,
        [series('consentgate_purge_overdue', { vendor: 'crm-sync' })]: 1,
      },
    };
    const s = statusModel({ metrics: m, counters: {}, gauges: {}, group: 'g', ready: true, detail: 'ok', history: new DecisionHistory(), now: 0 });
    assert.deepEqual(s.lag, [{ topic: 't', partition: 2, lag: 12, seconds: 3.5, cause: 'consent_wait' }]);
    assert.deepEqual(s.purge, [{ vendor: 'crm-sync', outstanding: 2, overdue: 1 }]);
    assert.deepEqual(s.decisions, [{ sink: 'crm', outcome: 'FORWARDED', reason: 'CONSENT_GRANTED', count: 7 }]);
  });
});
