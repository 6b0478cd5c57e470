import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { afterEach, describe, it } from 'node:test';
import { PROJECT_ROOT } from '../../src/app.ts';
import type { SinkRecord } from '../../src/domain/fieldRules.ts';
import type { Decision } from '../../src/domain/types.ts';
import { cutoverMarker } from '../../src/processors/enforcement.ts';
import type { DeadLetterValue } from '../../src/runtime/task.ts';
import { started, stopDrivers } from './driver.ts';

// The live side of a policy change (issue 14): a cutover marker switches a partition of a record topic to a later
// policy generation exactly at the marker's offset, and the switch survives a restart (policy-cutovers store).
afterEach(stopDrivers);

/** The shipped policy as generation 2, with crm now also requiring ANALYTICS. */
function generation2(): { text: string; version: string } {
  const doc = JSON.parse(readFileSync(resolve(PROJECT_ROOT, 'topologies/policy.json'), 'utf8'));
  doc.version = 'test-gen-2';
  doc.generation = 2;
  doc.sinks.crm.requires = ['MARKETING', 'ANALYTICS'];
  return { text: JSON.stringify(doc), version: doc.version };
}

describe('policy cutover in memory', () => {
  it('decides records before the marker under the old generation and from the marker on under the new one, also after a restart', async () => {
    const d = await started();
    d.consent('c1', { MARKETING: true, ANALYTICS: false, THIRD_PARTY: true });
    const before = d.record('c1');
    const g2 = generation2();
    const marker = d.control('genesys.conversations', cutoverMarker(g2.text, { generation: 2, version: g2.version }));
    const after = d.record('c1');
    await d.drained('genesys.conversations');

    const ds = await d.decisions();
    const of = (id: string) => ds.filter((x) => x.recordId === id);
    assert.deepEqual(of(before.recordId).map((x) => [x.sink, x.outcome, x.generation]).sort(), [['analytics', 'BLOCKED', 1], ['crm', 'FORWARDED', 1], ['thirdparty', 'FORWARDED', 1]]);
    assert.deepEqual(of(after.recordId).map((x) => [x.sink, x.outcome, x.reason, x.generation, x.policyVersion]).sort(), [
      ['analytics', 'BLOCKED', 'CONSENT_WITHDRAWN', 2, g2.version], ['crm', 'BLOCKED', 'CONSENT_WITHDRAWN', 2, g2.version], ['thirdparty', 'FORWARDED', 'CONSENT_GRANTED', 2, g2.version],
    ]);
    assert.deepEqual((await d.output<SinkRecord>('sink.crm')).map((x) => x.recordId), [before.recordId]);
    assert.deepEqual((await d.output<SinkRecord>('sink.thirdparty')).map((x) => x.recordId), [before.recordId]);
    assert.deepEqual((await d.outputOf<SinkRecord>(`${d.name('sink.thirdparty')}.v2`, 'sink.thirdparty')).map((x) => x.recordId), [after.recordId]);
    assert.equal((await d.outputOf(`${d.name('sink.crm')}.v2`, 'sink.crm')).length, 0);
    const cut = await d.output<{ topic: string; offset: string; generation: number }>('policy.cutovers');
    assert.deepEqual(cut.map((c) => [c.topic, c.offset, c.generation]), [[d.name('genesys.conversations'), marker.offset, 2]]);
    assert.equal(d.counters['consentgate_policy_cutovers_total{generation="2"}'], 1);

    // The next owner restores the cutover: the partition stays on generation 2; a repeated marker changes nothing.
    await d.stop();
    await d.start();
    d.control('genesys.conversations', cutoverMarker(g2.text, { generation: 2, version: g2.version }));
    const later = d.record('c1');
    await d.drained('genesys.conversations');
    const laterDs = (await d.decisions()).filter((x: Decision) => x.recordId === later.recordId);
    assert.deepEqual(laterDs.map((x) => x.generation), [2, 2, 2]);
    assert.equal((await d.output('policy.cutovers')).length, 1, 'the repeated marker wrote no second cutover');
    // Records of the other topic are still decided under generation 1 until its own marker arrives.
    assert.equal(d.raw('genesys.exports').length, 0);
  });

  it('dead-letters a marker whose policy does not fit the topology, and keeps deciding under the current generation', async () => {
    const d = await started();
    d.consent('c1', { MARKETING: true, ANALYTICS: true, THIRD_PARTY: true });
    const bad = JSON.stringify({ version: 'broken', generation: 2, sinks: { crm: { requires: ['MARKETING'], defaultAction: 'drop' } } });
    d.control('genesys.conversations', cutoverMarker(bad, { generation: 2, version: 'broken' }));
    const r = d.record('c1');
    await d.drained('genesys.conversations');
    const dead = await d.output<DeadLetterValue>('dlq');
    assert.equal(dead.length, 1);
    assert.equal(dead[0]!.errorCode, 'VALIDATION_FAILED');
    assert.equal(dead[0]!.value?.toString(), bad, 'the marker\'s original bytes');
    assert.match(dead[0]!.error, /missing: analytics, thirdparty/);
    assert.deepEqual((await d.decisions()).filter((x) => x.recordId === r.recordId).map((x) => x.generation), [1, 1, 1]);
  });
});
