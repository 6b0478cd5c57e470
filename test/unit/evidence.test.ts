import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { EvidenceDb } from '../../src/adapters/evidenceDb.ts';
import { embeddedDb } from '../../src/adapters/postgres.ts';
import { assembleBundle, stateRowOf, type EvidenceRows } from '../../src/domain/evidence.ts';
import type { Vendor } from '../../src/domain/purge.ts';
import type { ConsentState, Decision } from '../../src/domain/types.ts';

const H = 3_600_000;
const vendor = (name: string, sinks: string[], hosts: string[]): Vendor => ({ name, sinks, hosts, retentionPolicyId: 'RP', deletion: 'HARD_API', ackSlaMs: 24 * H, retentionDays: 30 });
const vendors = [vendor('crm-sync', ['crm'], ['api.crm.example']), vendor('partner', ['thirdparty'], ['partner.example'])];
const state = (version: number, granted: boolean, eventId: string): ConsentState => ({
  customerId: 'c1', version, updatedAt: version, complianceStatus: granted ? 'FULLY_OPTED_IN' : 'FULLY_OPTED_OUT',
  purposes: [{ purpose: 'MARKETING', entry: { granted, capturedAt: version, source: 'WEB', eventId }, channels: [] }],
});
const decision = (sink: string, outcome: 'FORWARDED' | 'BLOCKED', decidedAt: number) => ({
  recordId: `r${decidedAt}`, conversationId: 'v1', sink, outcome, reason: outcome === 'FORWARDED' ? 'CONSENT_GRANTED' : 'CONSENT_WITHDRAWN', deniedPurposes: [],
  policyVersion: 'p1', consentVersion: 1, decidedAt, generation: 1, replayId: null, resolvedBy: null,
});
const rows: EvidenceRows = {
  customerId: 'c1',
  identifiers: [{ kind: 'EMAIL', pseudonym: 'psn:a', heldBy: 1, modifiedAt: 0 }, { kind: 'PHONE', pseudonym: 'psn:b', heldBy: 2, modifiedAt: 0 }],
  consentEvents: [
    { eventId: 'e2', source: 'PHONE', capturedAt: 20, receivedAt: 20, purposes: [{ purpose: 'MARKETING', granted: false, channel: null }], resolvedBy: { identifier: 'PHONE', link: 'WEAK' } },
    { eventId: 'e1', source: 'WEB', capturedAt: 1, receivedAt: 1, purposes: [{ purpose: 'MARKETING', granted: true, channel: null }], resolvedBy: null },
    { eventId: 'e0', source: 'WEB', capturedAt: 0, receivedAt: 30, purposes: [{ purpose: 'MARKETING', granted: true, channel: null }], resolvedBy: null },
  ],
  consentStates: [stateRowOf(state(2, false, 'e2')), stateRowOf(state(1, true, 'e1'))],
  decisions: [decision('crm', 'FORWARDED', 10), decision('crm', 'BLOCKED', 25)],
  decisionsTotal: 2,
  purgeCommands: [
    { commandId: 'k1', requestId: 'q1', vendor: 'crm-sync', reason: 'WITHDRAWAL', purposes: ['MARKETING'], issuedAt: 21, dueAt: 21 + 24 * H, attempt: 1 },
    { commandId: 'k2', requestId: 'q1', vendor: 'crm-sync', reason: 'WITHDRAWAL', purposes: ['MARKETING'], issuedAt: 21 + H, dueAt: 21 + 24 * H, attempt: 2 },
    { commandId: 'k3', requestId: 'q1', vendor: 'partner', reason: 'WITHDRAWAL', purposes: ['MARKETING'], issuedAt: 21, dueAt: 21 + 24 * H, attempt: 1 },
    { commandId: 'k4', requestId: 'q2', vendor: 'crm-sync', reason: 'ERASURE', purposes: [], issuedAt: 40 * H, dueAt: 64 * H, attempt: 1 },
  ],
  purgeAcks: [
    { requestId: 'q1', vendor: 'crm-sync', status: 'COMPLETED', reason: null, at: 30 * H },
    { requestId: 'q1', vendor: 'partner', status: 'COMPLETED', reason: null, at: 2 * H },
  ],
  sessions: [],
  erasures: [{ requestId: 'x', requestedAt: 40 * H, source: 'API', keysDestroyed: 2, genesysGdprRequestId: null }],
  dpias: [
    { integrationId: 'i1', integrationName: 'CRM webhook', dpiaId: 'd1', complianceStatus: 'APPROVED_FOR_DEPLOYMENT', overallRisk: 'LOW', destinations: ['API.crm.example'], at: 0 },
    { integrationId: 'i2', integrationName: 'Partner feed', dpiaId: 'd2', complianceStatus: 'PENDING_APPROVAL', overallRisk: 'HIGH', destinations: ['partner.example'], at: 0 },
  ],
};

describe('evidence bundle', () => {
  const b = assembleBundle(rows, { vendors, now: 70 * H, asked: 'psn:a' });

  it('pairs each consent statement with the state it led to; one older than what was known led to none', () => {
    assert.deepEqual(b.consent.map((c) => [c.eventId, c.stateAfter?.version ?? null]), [['e1', 1], ['e2', 2], ['e0', null]]);
    assert.equal(b.currentConsent?.version, 2);
  });

  it('one purge per request and vendor, with its resends, answers and SLA status', () => {
    assert.deepEqual(b.purges.map((p) => [p.requestId, p.vendor, p.attempts, p.sla]), [['q1', 'crm-sync', 2, 'LATE'], ['q1', 'partner', 1, 'MET'], ['q2', 'crm-sync', 1, 'OVERDUE']]);
    assert.equal(assembleBundle(rows, { vendors, now: 50 * H }).purges[2]!.sla, 'OPEN');
  });

  it('names the DPIAs of the hosts of the vendors whose sinks received records, and only those', () => {
    assert.deepEqual(b.dpias.map((d) => [d.integrationId, d.vendors]), [['i1', ['crm-sync']]]);
    assert.deepEqual(b.forwardedTo, [{ sink: 'crm', records: 1, first: 10, last: 10 }]);
  });

  it('links identifiers by kind and holders, marks the one asked about, and orders the timeline by time', () => {
    assert.deepEqual(b.identifiers.map((i) => [i.kind, i.link, i.asked]), [['EMAIL', 'STRONG', true], ['PHONE', 'NONE', false]]);
    assert.deepEqual(b.timeline.map((t) => t.kind), ['CONSENT', 'DECISION', 'CONSENT', 'PURGE_REQUESTED', 'PURGE_REQUESTED', 'DECISION', 'CONSENT', 'PURGE_ACKNOWLEDGED', 'PURGE_ACKNOWLEDGED', 'PURGE_REQUESTED', 'ERASURE']);
    assert.match(b.timeline[2]!.text, /withdrew MARKETING .*given by phone/);
    assert.match(b.timeline.find((t) => t.text.startsWith('crm-sync answered'))!.text, /360 min after its SLA/);
  });
});

describe('evidence store (SQL, on an embedded PostgreSQL)', () => {
  const db = embeddedDb(mkdtempSync(join(tmpdir(), 'consentgate-evidence-unit-')));
  const store = new EvidenceDb(db, 'ev');
  after(() => db.close());

  it('writes a batch once, keeps a contact\'s current identifiers only, and reads back the rows of one customer', async () => {
    await store.apply();
    await store.apply(); // idempotent
    const d: Decision = { ...decision('crm', 'FORWARDED', 10), reason: 'CONSENT_GRANTED', customerId: 'c1', inputTopic: 't', inputPartition: 0, inputOffset: '0', resolvedBy: { identifier: 'EMAIL' as const, link: 'STRONG' as const } };
    const end = { consumer: 'decisions', topic: 'audit', partition: 0, from: 0n, next: 2n };
    assert.equal(await store.ledger.once(end, (tx) => store.decisions(tx, [d, { ...d, recordId: 'other', customerId: 'c2' }, { ...d, recordId: 'nobody', customerId: null }])), true);
    assert.equal(await store.ledger.once(end, () => assert.fail('written twice')), false);
    const psn = (k: string) => `psn:${k}`;
    await store.ledger.once({ ...end, consumer: 'facts', topic: 'ids' }, async (tx) => {
      await store.identities(tx, [{ contactId: 'c1', identifiers: ['email:a@x.example', 'phone:+15550001'], deleted: false, modifiedAt: 1 }, { contactId: 'c2', identifiers: ['phone:+15550001'], deleted: false, modifiedAt: 1 }], psn);
      await store.identities(tx, [{ contactId: 'c1', identifiers: ['email:a@x.example'], deleted: false, modifiedAt: 2 }], psn); // dropped the phone
      await store.consentStates(tx, [state(1, true, 'e1')]);
    });
    const rows = await store.rows('c1');
    assert.deepEqual(rows.decisions.map((x) => [x.recordId, x.sink, x.resolvedBy]), [['r10', 'crm', { identifier: 'EMAIL', link: 'STRONG' }]]);
    assert.equal(rows.decisionsTotal, 1);
    assert.deepEqual(rows.identifiers.map((i) => [i.kind, i.pseudonym, i.heldBy]), [['EMAIL', 'psn:email:a@x.example', 1]]);
    assert.deepEqual(rows.consentStates, [stateRowOf(state(1, true, 'e1'))]);
    assert.deepEqual(await store.customerOf('psn:email:a@x.example'), { customerId: 'c1' });
    assert.deepEqual(await store.customerOf('psn:phone:+15550001'), { customerId: 'c2' });
    assert.deepEqual(await store.customerOf('psn:nothing'), { holders: 0 });
  });
});
