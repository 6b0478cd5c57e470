import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createHmac, hkdfSync } from 'node:crypto';
import { createFieldTransforms } from '../../src/adapters/fieldCrypto.ts';
import { applyConsentEvent } from '../../src/domain/consentState.ts';
import { reduceForSink, SHRED_REF_PREFIX, type SinkRecord } from '../../src/domain/fieldRules.ts';
import { evaluate, type SinkPolicy } from '../../src/domain/policy.ts';
import type { ConsentState } from '../../src/domain/types.ts';

const crm: SinkPolicy = { name: 'crm', requires: ['MARKETING'], defaultAction: 'drop', fields: { ani: 'keep', 'participants.name': 'pseudonymize', 'participants.address': 'encrypt' } };
const both: SinkPolicy = { name: 'both', requires: ['MARKETING', 'ANALYTICS'], defaultAction: 'keep', fields: {} };

function state(grants: Record<string, boolean>, channel: 'VOICE' | null = null): ConsentState {
  return applyConsentEvent(undefined, {
    eventId: 'e', customerId: 'c1', capturedAt: 5, source: 'API',
    purposes: Object.entries(grants).map(([p, g]) => ({ purpose: p as 'MARKETING', granted: g, channel })),
  }, 1).state!;
}

describe('policy evaluation', () => {
  const cases: { name: string; sink: SinkPolicy; customerId: string | null; st?: ConsentState; expect: string }[] = [
    { name: 'no subject', sink: crm, customerId: null, expect: 'block:NO_SUBJECT' },
    { name: 'empty subject', sink: crm, customerId: '', expect: 'block:NO_SUBJECT' },
    { name: 'unknown customer', sink: crm, customerId: 'c1', expect: 'block:CONSENT_UNKNOWN' },
    { name: 'granted', sink: crm, customerId: 'c1', st: state({ MARKETING: true }), expect: 'forward' },
    { name: 'withdrawn', sink: crm, customerId: 'c1', st: state({ MARKETING: false }), expect: 'block:CONSENT_WITHDRAWN' },
    { name: 'purpose never stated', sink: crm, customerId: 'c1', st: state({ ANALYTICS: true }), expect: 'block:CONSENT_UNKNOWN' },
    { name: 'all required granted', sink: both, customerId: 'c1', st: state({ MARKETING: true, ANALYTICS: true }), expect: 'forward' },
    { name: 'one of two withdrawn', sink: both, customerId: 'c1', st: state({ MARKETING: true, ANALYTICS: false }), expect: 'block:CONSENT_WITHDRAWN' },
    { name: 'channel override for another channel does not apply', sink: crm, customerId: 'c1', st: state({ MARKETING: true }, 'VOICE'), expect: 'block:CONSENT_UNKNOWN' },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const v = evaluate(c.sink, { customerId: c.customerId, channel: 'CHAT' }, c.st);
      assert.equal(v.kind === 'forward' ? 'forward' : `block:${v.reason}`, c.expect);
    });
  }

  it('reports the version of the consent that allowed a record', () => {
    const v = evaluate(crm, { customerId: 'c1', channel: 'VOICE' }, state({ MARKETING: true }));
    assert.deepEqual(v, { kind: 'forward', consentVersion: 1 });
  });
});

describe('field rules', () => {
  const t = createFieldTransforms('00'.repeat(32));
  const rec: SinkRecord = {
    recordId: 'r', conversationId: 'c', customerId: 'c1', channel: 'VOICE', occurredAt: 1, kind: 'segment',
    participants: [{ participantId: 'p', purpose: 'customer', name: 'Ann', address: 'tel:+1555', userId: null }],
    ani: '+1555', dnis: '+1800', attributes: { email: 'a@b.c' }, transcript: 'secret', exportJobId: null, exportVersion: null, shredded: null,
  };

  it('keeps, drops, pseudonymizes and encrypts per field; unlisted fields get the default', () => {
    const out = reduceForSink(rec, crm, t);
    assert.equal(out.ani, '+1555');
    assert.equal(out.dnis, null);
    assert.equal(out.transcript, null);
    assert.deepEqual(out.attributes, {});
    assert.match(out.participants[0]!.name!, /^psn:/);
    assert.equal(out.participants[0]!.name, reduceForSink(rec, crm, t).participants[0]!.name, 'pseudonyms are stable');
    assert.match(out.participants[0]!.address!, /^enc:v1:/);
    assert.ok(!out.participants[0]!.address!.includes('1555'));
    assert.equal(out.recordId, 'r');
    assert.equal(rec.transcript, 'secret', 'the input is not mutated');
  });

  it('seals the shredded values of a record once, each shredded field holding the index of its value', () => {
    const sink = { ...crm, fields: { 'participants.name': 'shred', 'participants.address': 'keep', ani: 'shred', attributes: 'shred', transcript: 'drop' } } as SinkPolicy;
    const sealed: string[][] = [];
    const out = reduceForSink({ ...rec, participants: [...rec.participants, { ...rec.participants[0]!, participantId: 'q', name: null }] }, sink, { ...t, shred: (values) => (sealed.push(values), 'SEALED') });
    assert.equal(sealed.length, 1, 'one seal per record');
    assert.deepEqual([...sealed[0]!].sort(), ['+1555', 'Ann', 'a@b.c'], 'of every non-null shredded value');
    const values = sealed[0]!;
    const at = (ref: string | null) => values[Number(ref!.slice(SHRED_REF_PREFIX.length))];
    assert.deepEqual([at(out.ani), at(out.attributes.email!), at(out.participants[0]!.name)], ['+1555', 'a@b.c', 'Ann']);
    assert.equal(out.participants[1]!.name, null, 'a null stays null');
    assert.equal(out.participants[0]!.address, 'tel:+1555');
    assert.equal(out.shredded, 'SEALED');
    assert.equal(reduceForSink(rec, crm, t).shredded, null, 'nothing shredded, nothing sealed');
  });

  it('seals a kept value that looks shredded where the sink shreds, so that it reads back as itself; elsewhere keeps it', () => {
    const sink = { ...crm, fields: { ani: 'shred', transcript: 'keep', attributes: 'keep' } } as SinkPolicy;
    const sealed: string[][] = [];
    const input = { ...rec, transcript: `${SHRED_REF_PREFIX}0`, attributes: { v1: 'shr:v1:k:AAAA', plain: 'a@b.c' } };
    const out = reduceForSink(input, sink, { ...t, shred: (values) => (sealed.push(values), 'SEALED') });
    const at = (ref: string | null | undefined) => sealed[0]![Number(ref!.slice(SHRED_REF_PREFIX.length))];
    assert.deepEqual([at(out.ani), at(out.transcript), at(out.attributes.v1)], ['+1555', `${SHRED_REF_PREFIX}0`, 'shr:v1:k:AAAA']);
    assert.equal(sealed[0]!.length, 3);
    assert.equal(out.attributes.plain, 'a@b.c', 'other kept values stay in the clear');
    const elsewhere = reduceForSink(input, { ...crm, fields: { ...crm.fields, transcript: 'keep' } }, t);
    assert.equal(elsewhere.transcript, `${SHRED_REF_PREFIX}0`, 'a sink that shreds nothing has no seal to put it in');
    assert.equal(elsewhere.shredded, null);
  });

  it('pseudonymizes as HMAC-SHA256 under the derived key, remembered or not', () => {
    const macKey = Buffer.from(hkdfSync('sha256', Buffer.alloc(32), Buffer.alloc(0), 'consentgate pseudonym v1', 32));
    const expected = (v: string) => 'psn:' + createHmac('sha256', macKey).update(v).digest('base64url').slice(0, 22);
    const first = t.pseudonymize('tel:+15550001');
    assert.equal(first, expected('tel:+15550001'));
    for (let i = 0; i < 25_000; i++) assert.equal(t.pseudonymize(`v${i}`), i % 5000 === 0 ? expected(`v${i}`) : t.pseudonymize(`v${i}`));
    assert.equal(t.pseudonymize('tel:+15550001'), first, 'the same after being forgotten');
  });
});
