import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import fc from 'fast-check';
import { AnalyticsDb } from '../../src/adapters/analyticsDb.ts';
import { embeddedDb } from '../../src/adapters/postgres.ts';
import { decodeCursor, effectiveGrants, encodeCursor, permitsRow, storeDdl, storeProblems } from '../../src/domain/analyticsStore.ts';
import { effectiveGrant, type Policy, type SinkPolicy } from '../../src/domain/policy.ts';
import type { Vendor } from '../../src/domain/purge.ts';
import { CHANNELS, PURPOSES, type Channel, type ConsentState, type Purpose } from '../../src/domain/types.ts';

const analytics: SinkPolicy = { name: 'analytics', requires: ['ANALYTICS'], fields: {}, defaultAction: 'drop', store: 'postgres' };
const both: SinkPolicy = { name: 'both', requires: ['ANALYTICS', 'MARKETING'], fields: {}, defaultAction: 'drop', store: 'postgres' };
const crm: SinkPolicy = { name: 'crm', requires: ['MARKETING'], fields: {}, defaultAction: 'drop' };
const policy: Policy = { version: 'p1', generation: 1, sinks: [analytics, both, crm], sessionGuard: { purposes: [] } };
const vendor = (o: Partial<Vendor>): Vendor => ({ name: 'store', sinks: ['analytics', 'both'], retentionPolicyId: 'R', deletion: 'HARD_API', ackSlaMs: 1, hosts: [], retentionDays: null, store: 'postgres', ...o });
const entry = (granted: boolean) => ({ granted, capturedAt: 1, source: 'WEB' as const, eventId: 'e1' });

/** A consent state from flags: purpose level (or absent), and per-channel overrides. */
function state(customerId: string, flags: { purpose: Purpose; level: boolean | null; channels: [Channel, boolean][] }[]): ConsentState {
  return {
    customerId, version: 1, complianceStatus: 'PARTIAL_OPT_IN', updatedAt: 1,
    purposes: flags.map((f) => ({ purpose: f.purpose, entry: f.level === null ? null : entry(f.level), channels: f.channels.map(([channel, g]) => ({ channel, ...entry(g) })) })),
  };
}
const arbState = (customerId: string) => fc.uniqueArray(fc.constantFrom(...PURPOSES), { maxLength: 3 }).chain((purposes) => fc.tuple(...purposes.map((purpose) => fc.record({
  purpose: fc.constant(purpose),
  level: fc.option(fc.boolean(), { nil: null }),
  channels: fc.uniqueArray(fc.tuple(fc.constantFrom(...CHANNELS), fc.boolean()), { selector: (c) => c[0], maxLength: 3 }),
})))).map((flags) => state(customerId, flags));

describe('analytics store (domain)', () => {
  it('effective grants: a channel override wins over the purpose level, exactly as the enforcement decides', () => {
    fc.assert(fc.property(arbState('c'), (s) => {
      const grants = new Set(effectiveGrants(s));
      for (const p of PURPOSES) for (const ch of CHANNELS) assert.equal(grants.has(`${p}:${ch}`), effectiveGrant(s, p, ch) === 'granted');
    }));
    const s = state('c', [{ purpose: 'ANALYTICS', level: true, channels: [['VOICE', false]] }]);
    assert.deepEqual(effectiveGrants(s), ['ANALYTICS:CHAT', 'ANALYTICS:EMAIL', 'ANALYTICS:SMS', 'ANALYTICS:MESSAGING']);
  });

  it('a stored sink must be read by the store vendor, so that its purges reach the store', () => {
    assert.deepEqual(storeProblems(policy, [vendor({})]), []);
    assert.match(storeProblems(policy, [vendor({ store: undefined })])[0]!, /no vendor of the registry is the analytics store/);
    assert.deepEqual(storeProblems(policy, [vendor({ sinks: ['analytics'] })]), ['sink both is stored, but the store vendor store does not read it: add it to its sinks']);
    assert.match(storeProblems({ ...policy, sinks: [crm] }, [vendor({})])[0]!, /lands no sink in the analytics store/);
  });

  it('cursors round-trip; anything else is not a cursor', () => {
    assert.deepEqual(decodeCursor(encodeCursor({ occurredAt: 1764547200000, recordId: 'r-1' })), { occurredAt: 1764547200000, recordId: 'r-1' });
    for (const bad of ['zzz', '', Buffer.from('[1]').toString('base64url'), Buffer.from('["x","y"]').toString('base64url')]) assert.equal(decodeCursor(bad), undefined);
  });

  it('the DDL: a view per stored sink with its purposes, nothing for the others, identifiers checked', () => {
    const sql = storeDdl(policy, { schema: 'an', readerRole: 'an_reader' });
    assert.match(sql, /CREATE OR REPLACE VIEW an\.analytics WITH \(security_barrier = true\)/);
    assert.match(sql, /c\.grants @> ARRAY\['ANALYTICS:' \|\| r\.channel, 'MARKETING:' \|\| r\.channel\]/);
    assert.doesNotMatch(sql, /VIEW an\.crm/);
    assert.match(sql, /REVOKE ALL ON SCHEMA an_raw FROM PUBLIC/);
    assert.throws(() => storeDdl(policy, { schema: 'an; DROP TABLE x', readerRole: 'r' }), /not a lower-case SQL identifier/);
  });
});

describe('analytics store (SQL, on an embedded PostgreSQL)', () => {
  const db = embeddedDb(mkdtempSync(join(tmpdir(), 'consentgate-store-unit-')));
  const store = new AnalyticsDb(db, { schema: 'an', readerRole: 'an_reader' }, policy);
  after(() => db.close());

  it('the reader views show exactly the rows the enforcement would forward under the consent of the moment', async () => {
    await store.apply();
    await store.apply(); // idempotent
    const customers = ['a', 'b', 'c', 'd', 'e', 'f'];
    const rows = customers.flatMap((c) => CHANNELS.map((channel, i) => ({ recordId: `${c}-${i}`, customerId: c, conversationId: `v-${c}`, channel, occurredAt: 1_000 + i, kind: 'segment', generation: 1, record: { c } })));
    let offset = 0n;
    const batch = (consumer: string) => ({ consumer, topic: 't', partition: 0, from: offset, next: ++offset });
    for (const sink of ['analytics', 'both']) await store.ledger.once(batch('rows'), (tx) => store.insertRows(tx, sink, rows));
    let version = 1;
    await fc.assert(fc.asyncProperty(fc.tuple(...customers.map((c) => arbState(c))), async (states) => {
      version++;
      await store.ledger.once(batch('consent'), (tx) => store.mirrorConsent(tx, states.map((s) => ({ customerId: s.customerId, state: { ...s, version } }))));
      for (const sink of [analytics, both]) {
        const visible = new Set((await db.query<{ record_id: string }>(`SELECT record_id FROM an.${sink.name}`)).map((r) => r.record_id));
        const expected = new Set(rows.filter((r) => permitsRow(sink, r, states.find((s) => s.customerId === r.customerId))).map((r) => r.recordId));
        assert.deepEqual(visible, expected);
      }
    }), { numRuns: 40 });
  });

  it('a batch committed once is not written again; an older consent version never replaces a newer one', async () => {
    const end = { consumer: 'rows', topic: 'u', partition: 3, from: 0n, next: 5n };
    const row = { recordId: 'once-1', customerId: 'z', conversationId: 'v', channel: 'CHAT' as const, occurredAt: 5, kind: 'segment', generation: 1, record: {} };
    assert.equal(await store.ledger.once(end, (tx) => store.insertRows(tx, 'analytics', [row])), true);
    assert.equal(await store.ledger.once(end, () => assert.fail('written twice')), false);
    assert.equal(await store.ledger.resumeAt('rows', 'u', 3), 5n);
    const granted = state('z', [{ purpose: 'ANALYTICS', level: true, channels: [] }]);
    await store.ledger.once({ ...end, consumer: 'consent' }, (tx) => store.mirrorConsent(tx, [{ customerId: 'z', state: { ...granted, version: 10_000 } }]));
    await store.ledger.once({ ...end, consumer: 'consent', from: 5n, next: 6n }, (tx) => store.mirrorConsent(tx, [{ customerId: 'z', state: { ...state('z', [{ purpose: 'ANALYTICS', level: false, channels: [] }]), version: 9_999 } }]));
    assert.deepEqual((await store.scan(analytics, { limit: 10, channel: 'CHAT', from: 5, to: 6 })).map((r) => [r.recordId, r.consent?.version, r.permitted]), [['once-1', 10_000, true]]);
  });
});
