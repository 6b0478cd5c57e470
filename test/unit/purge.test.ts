import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { applyAck, mergeLineage, openRequest, purgeBacklog, recordDelivery, slaTick, vendorsToPurge, type Vendor } from '../../src/domain/purge.ts';
import type { SinkPolicy } from '../../src/domain/policy.ts';
import { loadVendors } from '../../src/runtime/topology.ts';
import { loadTopology } from '../../src/topology.ts';

const H = 3_600_000;
const vendors: Vendor[] = [
  { name: 'crm-sync', sinks: ['crm'], retentionPolicyId: 'RP-1', deletion: 'HARD_API', ackSlaMs: 24 * H, hosts: [], retentionDays: null },
  { name: 'warehouse', sinks: ['analytics'], retentionPolicyId: 'RP-2', deletion: 'SOFT', ackSlaMs: 24 * H, hosts: [], retentionDays: null },
  { name: 'partner', sinks: ['thirdparty'], retentionPolicyId: 'RP-3', deletion: 'HARD_API', ackSlaMs: 48 * H, hosts: [], retentionDays: null },
];
const sink = (name: string, requires: SinkPolicy['requires']): SinkPolicy => ({ name, requires, fields: {}, defaultAction: 'drop' });

describe('purge planning', () => {
  const lineage = recordDelivery(recordDelivery(undefined, 'c', sink('crm', ['MARKETING']), 1), 'c', sink('analytics', ['ANALYTICS']), 2);

  it('purges exactly the vendors whose sinks received data for the purpose', () => {
    assert.deepEqual(vendorsToPurge(lineage, ['MARKETING'], vendors).map((v) => v.name), ['crm-sync']);
    assert.deepEqual(vendorsToPurge(lineage, ['THIRD_PARTY'], vendors).map((v) => v.name), []);
    assert.deepEqual(vendorsToPurge(lineage, 'ALL', vendors).map((v) => v.name), ['crm-sync', 'warehouse']);
    assert.deepEqual(vendorsToPurge(undefined, 'ALL', vendors), []);
  });

  it('opens a request once per cause, and the status follows the acks', () => {
    const opened = openRequest(undefined, 'c', { requestId: 'r1', reason: 'WITHDRAWAL', purposes: ['MARKETING'], vendors: vendors.slice(0, 2), now: 0 })!;
    assert.deepEqual(opened.commands.map((c) => [c.vendor, c.retentionPolicyId, c.attempt, c.dueAt]), [['crm-sync', 'RP-1', 1, 24 * H], ['warehouse', 'RP-2', 1, 24 * H]]);
    assert.equal(opened.record.status, 'PURGE_PENDING');
    assert.equal(openRequest(opened.record, 'c', { requestId: 'r1', reason: 'WITHDRAWAL', purposes: ['MARKETING'], vendors, now: 5 }), null, 'a replayed cause opens nothing');
    const ack = (vendor: string, status: 'COMPLETED' | 'DENIED', at: number) => ({ requestId: 'r1', vendor, customerId: 'c', status, reason: null, at });
    const one = applyAck(opened.record, ack('crm-sync', 'COMPLETED', 10), 10)!;
    assert.equal(one.status, 'PURGE_PENDING');
    assert.equal(applyAck(one, ack('crm-sync', 'COMPLETED', 10), 11), null, 'a replayed ack changes nothing');
    assert.equal(applyAck(one, { ...ack('crm-sync', 'COMPLETED', 10), requestId: 'nope' }, 11), null);
    assert.equal(applyAck(one, ack('warehouse', 'COMPLETED', 12), 12)!.status, 'FULLY_COMPLIANT');
    assert.equal(applyAck(one, ack('warehouse', 'DENIED', 12), 12)!.status, 'PURGE_DENIED');
  });

  it('re-sends to silent vendors each quarter SLA (three times at most) and escalates once at the SLA', () => {
    let record = openRequest(undefined, 'c', { requestId: 'r', reason: 'ERASURE', purposes: ['MARKETING'], vendors: [vendors[0]!], now: 0 })!.record;
    const sla = () => 24 * H;
    assert.equal(slaTick(record, 5 * H, sla), null);
    const tick = (at: number) => {
      const r = slaTick(record, at, sla);
      if (r) record = r.record;
      return r;
    };
    assert.deepEqual(tick(6 * H)!.commands.map((c) => c.attempt), [2]);
    assert.deepEqual(tick(12 * H)!.commands.map((c) => c.attempt), [3]);
    assert.deepEqual(tick(18 * H)!.commands.map((c) => c.attempt), [4]);
    const due = tick(24 * H)!;
    assert.deepEqual([due.commands.length, due.escalations.length, due.record.status], [0, 1, 'PURGE_OVERDUE']);
    assert.equal(tick(30 * H), null, 'escalated once, no fourth re-send');
  });
});

describe('vendor registry', () => {
  const topology = loadTopology(resolve(import.meta.dirname, '../../topologies/consentgate.json'));
  const file = (vendorsJson: unknown) => {
    const f = join(mkdtempSync(join(tmpdir(), 'vendors-')), 'vendors.json');
    writeFileSync(f, JSON.stringify(vendorsJson));
    return f;
  };
  it('a retraction names its records in every command, re-sends included; a replay\'s deliveries merge into the lineage', () => {
    const opened = openRequest(undefined, 'c', { requestId: 'retraction:g2:crm:r1', reason: 'RETRACTION', purposes: ['ANALYTICS'], vendors: vendors.slice(0, 1), now: 0, recordIds: ['r1', 'r2'] })!;
    assert.deepEqual(opened.commands.map((c) => [c.vendor, c.reason, c.recordIds]), [['crm-sync', 'RETRACTION', ['r1', 'r2']]]);
    const resent = slaTick(opened.record, 6 * H, () => 24 * H)!;
    assert.deepEqual(resent.commands.map((c) => [c.attempt, c.recordIds]), [[2, ['r1', 'r2']]]);
    const withdrawal = openRequest(undefined, 'c', { requestId: 'w', reason: 'WITHDRAWAL', purposes: ['MARKETING'], vendors: vendors.slice(0, 1), now: 0 })!;
    assert.deepEqual(withdrawal.commands[0]!.recordIds, [], 'a withdrawal covers all of the customer\'s data');

    const lineage = recordDelivery(recordDelivery(undefined, 'c', sink('crm', ['MARKETING']), 1), 'c', sink('analytics', ['ANALYTICS']), 2);
    const merged = mergeLineage(lineage, { customerId: 'c', updatedAt: 9, sinks: [{ sink: 'crm', purposes: ['MARKETING', 'ANALYTICS'], records: 3, firstAt: 0, lastAt: 9 }, { sink: 'thirdparty', purposes: ['THIRD_PARTY'], records: 1, firstAt: 9, lastAt: 9 }] });
    assert.deepEqual(merged.sinks.map((x) => [x.sink, x.purposes, x.records, x.firstAt, x.lastAt]), [
      ['crm', ['MARKETING', 'ANALYTICS'], 4, 0, 9], ['analytics', ['ANALYTICS'], 1, 2, 2], ['thirdparty', ['THIRD_PARTY'], 1, 9, 9],
    ]);
    assert.deepEqual(vendorsToPurge(merged, ['THIRD_PARTY'], vendors).map((v) => v.name), ['partner'], 'a withdrawal now reaches what only the replay delivered');
  });

  it('loads the shipped registry: sink readers and a vendor that only an integration sends data to; HARD is read as HARD_API', () => {
    const shipped = loadVendors(resolve(import.meta.dirname, '../../topologies/vendors.json'), topology);
    assert.deepEqual(shipped.map((v) => v.name).sort(), ['analytics-warehouse', 'consentgate-store', 'crm-sync', 'partner-enrichment', 'survey-vendor']);
    assert.deepEqual(shipped.find((v) => v.name === 'survey-vendor')!.sinks, []);
    assert.equal(loadVendors(file({ vendors: { a: { sinks: ['crm', 'analytics', 'thirdparty'], retentionPolicyId: 'x', deletion: 'HARD' } } }), topology)[0]!.deletion, 'HARD_API');
    assert.throws(() => loadVendors(file({ vendors: { a: { sinks: ['crm', 'analytics', 'thirdparty'], retentionPolicyId: 'x', deletion: 'HARD' }, b: { retentionPolicyId: 'y', deletion: 'SOFT' } } }), topology), /vendor b reads no sink and names no integration or host/);
  });
  it('refuses a sink no registered vendor reads, an unknown sink and a bad deletion capability', () => {
    assert.throws(() => loadVendors(file({ vendors: { a: { sinks: ['crm', 'analytics'], retentionPolicyId: 'x', deletion: 'HARD' } } }), topology), /sink thirdparty is read by no registered vendor/);
    assert.throws(() => loadVendors(file({ vendors: { a: { sinks: ['crm', 'analytics', 'thirdparty', 'fax'], retentionPolicyId: 'x', deletion: 'HARD' } } }), topology), /reads unknown sink fax/);
    assert.throws(() => loadVendors(file({ vendors: { a: { sinks: ['crm'], retentionPolicyId: 'x', deletion: 'SHRED' } } }), topology), /deletion/);
  });

  it('counts per vendor the commands not completed, and those past their SLA (the purge gauges)', () => {
    const a = openRequest(undefined, 'a', { requestId: 'r1', reason: 'WITHDRAWAL', purposes: ['MARKETING'], vendors: vendors.slice(0, 2), now: 0 })!.record;
    const b = openRequest(undefined, 'b', { requestId: 'r2', reason: 'WITHDRAWAL', purposes: ['MARKETING'], vendors: [vendors[0]!], now: 20 * H })!.record;
    const done = applyAck(a, { requestId: 'r1', vendor: 'warehouse', customerId: 'a', status: 'COMPLETED', reason: null, at: H }, H)!;
    assert.deepEqual(Object.fromEntries(purgeBacklog([done, b], ['crm-sync', 'warehouse', 'partner'], 25 * H)), {
      'crm-sync': { outstanding: 2, overdue: 1 }, warehouse: { outstanding: 0, overdue: 0 }, partner: { outstanding: 0, overdue: 0 },
    });
  });
});
