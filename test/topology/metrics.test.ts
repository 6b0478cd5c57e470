import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { series } from '../../src/runtime/metrics.ts';
import { conversation } from '../harness/pipeline.ts';
import { started, stopDrivers } from './driver.ts';

// The engine's metrics as one task produces them, in memory: counts by label, and lag from the task's own state.
afterEach(stopDrivers);

describe('task metrics in memory', () => {
  it('counts records in per topic, decisions by sink, outcome and reason, dead letters by topic and code, committed transactions', async () => {
    const d = await started();
    d.consent('c1', { MARKETING: true, ANALYTICS: false, THIRD_PARTY: true });
    d.record('c1');
    d.record('c1');
    d.pipe('genesys.conversations', 'c2', Buffer.from('not avro'));
    await d.drained('genesys.conversations');
    const c = d.counters;
    const conversations = d.name('genesys.conversations');
    assert.equal(c[series('consentgate_records_in_total', { topic: conversations })], 3);
    assert.equal(c[series('consentgate_records_in_total', { topic: d.name('consent.events') })], 1);
    assert.equal(c[series('consentgate_decisions_total', { sink: 'crm', outcome: 'FORWARDED', reason: 'CONSENT_GRANTED' })], 2);
    assert.equal(c[series('consentgate_decisions_total', { sink: 'analytics', outcome: 'BLOCKED', reason: 'CONSENT_WITHDRAWN' })], 2);
    assert.equal(c[series('consentgate_decisions_total', { sink: 'thirdparty', outcome: 'FORWARDED', reason: 'CONSENT_GRANTED' })], 2);
    assert.equal(c[series('consentgate_dead_letters_total', { topic: conversations, code: 'DESERIALIZATION_FAILED' })], 1);
    assert.equal(c[series('consentgate_transactions_total', { result: 'committed' })], d.producer.transactions.length);
    // Decisions counted are the decisions written; every stream record's decision latency observed once.
    const decided = Object.entries(c).filter(([k]) => k.startsWith('consentgate_decisions_total')).reduce((n, [, v]) => n + v, 0);
    assert.equal(decided, (await d.decisions()).length);
    const latencies = d.stats.flatMap((s) => s.observations.get('decisionLatencyMs') ?? []);
    assert.equal(latencies.length, 3);
    assert.ok(Object.keys(c).every((k) => !k.includes('c1') && !k.includes('c2')), 'no customer id in any series');
  });

  it('lag: records not yet processed and the exact age of the oldest; a fully processed transactional partition has lag 0, not 1', async () => {
    const d = await started();
    const lag = (g: Record<string, number>, name: string, extra: Record<string, string> = {}) =>
      g[series(name, { group: d.topology.applicationId, topic: d.name('genesys.conversations'), partition: 0, ...extra })];
    d.consent('c1', { MARKETING: true });
    d.record('c1');
    await d.drained('genesys.conversations');
    d.pipe('genesys.conversations', 'c1', d.serdes.forTopic('genesys.conversations').encode(conversation('c1')), { deliver: false });
    d.clock.advance(4000);
    d.record('c1');
    let g = d.gauges();
    assert.equal(lag(g, 'kafka_consumergroup_group_lag'), 2, 'two records not fetched yet');
    assert.equal(lag(g, 'kafka_consumergroup_group_lag_seconds'), 0, 'their age is not known before they are fetched: the last figure stands');
    d.deliver('genesys.conversations');
    g = d.gauges();
    assert.equal(lag(g, 'kafka_consumergroup_group_lag_seconds'), 4, 'the oldest unprocessed record is 4 s old (its timestamp, not an estimate)');
    assert.equal(lag(g, 'consentgate_lag_seconds', { cause: 'backlog' }), 4);
    await d.drained('genesys.conversations');
    // The upstream producer's commit marker follows the last record: the end offset is one past it.
    g = d.gauges({ 'genesys.conversations': 1 });
    assert.equal(lag(g, 'kafka_consumergroup_group_lag'), 0);
    assert.equal(lag(g, 'kafka_consumergroup_group_lag_seconds'), 0);
    assert.equal(g[series('consentgate_store_entries', { store: d.name('consent.state') })], 1);
  });

  it('time lag while records are held for the consent table is consent_wait, not backlog', async () => {
    const d = await started();
    d.consent('c1', { MARKETING: true });
    await d.drained('consent.events');
    d.consent('c1', { MARKETING: false }, { deliver: false }); // below the end offset, not fetched: the table is behind
    d.record('c1');
    await d.until('held', () => d.task.heldRecords === 1);
    d.clock.advance(2500);
    const g = d.gauges();
    const at = (cause: string) => g[series('consentgate_lag_seconds', { group: d.topology.applicationId, topic: d.name('genesys.conversations'), partition: 0, cause })];
    assert.equal(at('consent_wait'), 2.5);
    assert.equal(at('backlog'), 0);
    d.deliver('consent.events');
    await d.drained('genesys.conversations');
    assert.equal(d.gauges()[series('consentgate_lag_seconds', { group: d.topology.applicationId, topic: d.name('genesys.conversations'), partition: 0, cause: 'consent_wait' })], 0);
  });
});
