import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { afterEach, describe, it } from 'node:test';
import { PROJECT_ROOT } from '../../src/app.ts';
import type { SinkRecord } from '../../src/domain/fieldRules.ts';
import type { Lineage, PurgeCommand } from '../../src/domain/purge.ts';
import type { ReplayChange } from '../../src/domain/replay.ts';
import type { Retraction } from '../../src/processors/purge.ts';
import { changeSeries } from '../../src/processors/replay.ts';
import { loadPolicy, parsePolicy } from '../../src/runtime/topology.ts';
import { loadTopology } from '../../src/topology.ts';
import { started, stopDrivers } from './driver.ts';

// `consentgate replay` in memory (issue 14): the replay topology decides the records below the cutover under the new
// generation, against its own consent table, and says what the previous generation must retract.
afterEach(stopDrivers);

const live = loadTopology(resolve(PROJECT_ROOT, 'topologies/consentgate.json'));
const previous = loadPolicy(resolve(PROJECT_ROOT, 'topologies/policy.json'), live);
const doc = JSON.parse(readFileSync(resolve(PROJECT_ROOT, 'topologies/policy.json'), 'utf8'));
doc.version = 'gen-2';
doc.generation = 2;
doc.sinks.crm.requires = ['MARKETING', 'ANALYTICS']; // crm now needs analytics consent too
doc.sinks.analytics.fields.dnis = 'drop'; // analytics re-shaped
const policy = parsePolicy(JSON.stringify(doc), 'gen-2', live);

describe('replay topology in memory', () => {
  it('decides the records below the cutover under the new generation, retracts what it now forbids, and counts each change', async () => {
    const before = new Map<string, Set<string>>();
    const cutover = { at: 1000n };
    const d = await started({ replay: { policy, previous, cutover: () => cutover.at, forwardedBefore: (id) => before.get(id) } });
    d.consent('c1', { MARKETING: true, ANALYTICS: false, THIRD_PARTY: true });
    d.consent('c2', { MARKETING: true, ANALYTICS: true, THIRD_PARTY: true });
    d.consent('c5', { MARKETING: true, ANALYTICS: true, THIRD_PARTY: true });
    const r1 = d.record('c1');
    const r2 = d.record('c2');
    d.record('c3'); // no consent at all
    const r5 = d.record('c5'); // granted now, blocked when the live pipeline decided it
    before.set(r1.recordId, new Set(['crm', 'thirdparty']));
    before.set(r2.recordId, new Set(['crm', 'analytics', 'thirdparty']));
    before.set(r5.recordId, new Set());
    await d.drained('genesys.conversations');
    // A withdrawal acknowledged during the replay is applied before the records after it are decided.
    d.consent('c2', { MARKETING: false });
    const r6 = d.record('c2');
    before.set(r6.recordId, new Set(['crm']));
    cutover.at = BigInt(d.raw('genesys.conversations').length); // the next record's offset
    const past = d.record('c1'); // at the cutover: the live pipeline decides it
    await d.drained('genesys.conversations');

    const ds = await d.decisions();
    assert.ok(ds.every((x) => x.generation === 2 && x.replayId === 'replay-test' && x.policyVersion === 'gen-2'));
    assert.equal(ds.filter((x) => x.recordId === past.recordId).length, 0, 'the record at the cutover is not the replay\'s');
    const crm = (await d.outputOf<SinkRecord>(`${d.name('sink.crm')}.v2`, 'sink.crm')).map((r) => r.recordId);
    assert.deepEqual(crm, [r2.recordId, r5.recordId]);
    assert.equal((await d.output('sink.crm')).length, 0, 'nothing written to generation 1');
    const analytics = await d.outputOf<SinkRecord>(`${d.name('sink.analytics')}.v2`, 'sink.analytics');
    assert.deepEqual(analytics.map((r) => [r.recordId, r.dnis]), [[r2.recordId, null], [r5.recordId, null], [r6.recordId, null]], 'dnis dropped under the new rules');

    const retractions = await d.output<Retraction>('purge.retractions');
    assert.deepEqual(retractions.map((r) => [r.customerId, r.sink, r.recordIds, r.purposes]).sort(), [
      ['c1', 'crm', [r1.recordId], ['ANALYTICS']],
      ['c2', 'crm', [r6.recordId], ['MARKETING']],
    ]);
    const deliveries = await d.output<Lineage>('lineage.deliveries');
    assert.deepEqual(deliveries.map((l) => [l.customerId, l.sinks.map((s) => `${s.sink}:${s.records}`).sort()]).sort(), [
      ['c1', ['thirdparty:1']], ['c2', ['analytics:1', 'crm:1', 'thirdparty:1']], ['c2', ['analytics:1', 'thirdparty:1']], ['c5', ['analytics:1', 'crm:1', 'thirdparty:1']],
    ].sort());
    const expected: [string, ReplayChange, number][] = [
      ['crm', 'retract', 2], ['crm', 'keep', 2], ['crm', 'admit', 1],
      ['analytics', 'keep', 2], ['analytics', 'reshape', 1], ['analytics', 'admit', 2],
      ['thirdparty', 'keep', 3], ['thirdparty', 'admit', 2],
    ];
    assert.deepEqual(Object.fromEntries(Object.entries(d.counters).filter(([k]) => k.startsWith('consentgate_replay_changes_total'))), Object.fromEntries(expected.map(([sink, change, n]) => [changeSeries(sink, change), n])));
    assert.equal(d.counters['consentgate_replay_skipped_total{reason="past_cutover"}'], 1);
    // Its lag is the replay's, not a backlog of the live pipeline.
    const causes = new Set(Object.keys(d.gauges()).filter((k) => k.startsWith('consentgate_lag_seconds')).map((k) => /cause="([a-z_]+)"/.exec(k)![1]));
    assert.deepEqual([...causes].sort(), ['consent_wait', 'replay']);
  });

  it('live: a retraction becomes one RETRACTION command per vendor of the sink, naming the records; a replay\'s deliveries reach later withdrawals', async () => {
    const d = await started();
    const retraction: Retraction = { requestId: 'retraction:g2:crm:r1', customerId: 'c1', sink: 'crm', purposes: ['ANALYTICS'], recordIds: ['r1', 'r2'], generation: 2, policyVersion: 'gen-2', replayId: 'x', requestedAt: 0 };
    d.pipe('purge.retractions', 'c1', retraction);
    d.pipe('purge.retractions', 'c1', retraction); // the same request again (a redelivery) opens nothing twice
    await d.drained('purge.retractions');
    const commands = await d.output<PurgeCommand>('purge.commands');
    assert.deepEqual(commands.map((c) => [c.vendor, c.reason, c.customerId, c.recordIds, c.purposes]), [['crm-sync', 'RETRACTION', 'c1', ['r1', 'r2'], ['ANALYTICS']]]);

    // c2's third-party data reached a vendor only through a replay: its withdrawal must still purge that vendor.
    d.pipe('lineage.deliveries', 'c2', { customerId: 'c2', sinks: [{ sink: 'thirdparty', purposes: ['THIRD_PARTY'], records: 2, firstAt: 1, lastAt: 2 }], updatedAt: 2 } satisfies Lineage);
    await d.drained('lineage.deliveries');
    d.consent('c2', { THIRD_PARTY: true });
    d.clock.advance(1000);
    d.consent('c2', { THIRD_PARTY: false });
    await d.drained('consent.events');
    const after = (await d.output<PurgeCommand>('purge.commands')).filter((c) => c.customerId === 'c2');
    assert.deepEqual(after.map((c) => [c.vendor, c.reason]), [['partner-enrichment', 'WITHDRAWAL']]);
  });
});
