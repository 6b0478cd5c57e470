import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { identitiesOfContact, identifiersOfRecord, IdentityIndex, normaliseEmail, normalisePhone, resolveConsent, resolveRecord } from '../../src/domain/identity.ts';
import { evaluate, type SinkPolicy } from '../../src/domain/policy.ts';
import type { ConsentState, ConversationRecord } from '../../src/domain/types.ts';

const contact = (contactId: string, ...identifiers: string[]) => ({ contactId, identifiers, deleted: false, modifiedAt: 1 });

function graph(): IdentityIndex {
  const g = new IdentityIndex();
  g.apply(contact('ada', 'email:ada@example.com', 'phone:+447700900001', 'phone:+442070000000'));
  g.apply(contact('bob', 'email:bob@example.com', 'phone:+442070000000')); // a shared office number
  g.apply(contact('cyd', 'external:crm:42'));
  return g;
}

const record = (o: Partial<ConversationRecord>): ConversationRecord => ({
  recordId: 'r1', conversationId: 'c1', customerId: null, channel: 'VOICE', occurredAt: 1, kind: 'customer.start',
  participants: [{ participantId: 'p1', purpose: 'customer', name: null, address: null, userId: null }],
  ani: null, dnis: null, attributes: {}, transcript: null, ...o,
});
const from = (address: string, ani: string | null = null) => record({ participants: [{ participantId: 'p1', purpose: 'customer', name: null, address, userId: null }], ani });

describe('identifiers', () => {
  it('normalises e-mail addresses and E.164 numbers, and never reads a withheld caller id as a number', () => {
    assert.deepEqual(normaliseEmail(' mailto:Ada@Example.COM '), { ok: true, key: 'email:ada@example.com' });
    assert.equal(normaliseEmail('ada at example').ok, false);
    assert.deepEqual(normalisePhone('tel:+44 (7700) 900-001'), { ok: true, key: 'phone:+447700900001' });
    assert.deepEqual(normalisePhone('0044 7700 900001'), { ok: true, key: 'phone:+447700900001' });
    assert.deepEqual(normalisePhone('sip:+15555550102@edge.example;user=phone'), { ok: true, key: 'phone:+15555550102' });
    assert.equal(normalisePhone('07700 900001').ok, false, 'a national number is not guessed into a country');
    for (const withheld of ['anonymous', 'sip:anonymous@anonymous.invalid', 'tel:Withheld', 'Private', 'unknown']) {
      assert.deepEqual(normalisePhone(withheld), { ok: false, reason: 'withheld or anonymous caller id' }, withheld);
    }
  });

  it('reads a Genesys contact: e-mails, phones (E.164, else display), WhatsApp and external ids; wrong types skipped', () => {
    const c = identitiesOfContact({
      id: 'c1', workEmail: 'Ada@Example.com', personalEmail: 42, cellPhone: { e164: '+447700900001' }, homePhone: { display: '+44 20 7000 0000' },
      whatsAppId: { phoneNumber: { e164: '+447700900009' } }, externalIds: [{ externalSource: { id: 'crm' }, value: '42' }, { value: 7 }],
      modifyDate: '2026-11-01T10:00:00Z',
    });
    assert.deepEqual(c.identifiers, ['email:ada@example.com', 'external:crm:42', 'phone:+442070000000', 'phone:+447700900001', 'phone:+447700900009']);
    assert.equal(c.modifiedAt, Date.parse('2026-11-01T10:00:00Z'));
  });

  it('takes a record\'s identifiers from its customer participants and its ANI, not from agents', () => {
    const r = record({ participants: [
      { participantId: 'a', purpose: 'agent', name: null, address: 'agent@corp.example', userId: 'u' },
      { participantId: 'c', purpose: 'customer', name: null, address: 'Ada@example.com', userId: null },
    ], ani: 'tel:+447700900001' });
    assert.deepEqual(identifiersOfRecord(r), ['email:ada@example.com', 'phone:+447700900001']);
  });
});

describe('identity index', () => {
  it('links strength by kind and count: e-mail and external id strong, phone weak, shared identifiers nobody\'s', () => {
    const g = graph();
    assert.deepEqual(g.lookup('email:ada@example.com'), { kind: 'one', customerId: 'ada', link: 'STRONG', identifier: 'EMAIL' });
    assert.deepEqual(g.lookup('external:crm:42'), { kind: 'one', customerId: 'cyd', link: 'STRONG', identifier: 'EXTERNAL_ID' });
    assert.deepEqual(g.lookup('phone:+447700900001'), { kind: 'one', customerId: 'ada', link: 'WEAK', identifier: 'PHONE' });
    assert.deepEqual(g.lookup('phone:+442070000000'), { kind: 'many', contacts: 2, identifier: 'PHONE' });
    assert.equal(g.lookup('email:nobody@example.com').kind, 'none');
  });

  it('unlinks what a contact no longer holds and what a deleted contact held, and says which identifiers changed', () => {
    const g = graph();
    assert.deepEqual(g.apply(contact('bob', 'email:bob@example.com')).sort(), ['phone:+442070000000']);
    assert.deepEqual(g.lookup('phone:+442070000000'), { kind: 'one', customerId: 'ada', link: 'WEAK', identifier: 'PHONE' });
    g.apply({ ...contact('ada'), deleted: true });
    assert.equal(g.lookup('email:ada@example.com').kind, 'none');
    assert.equal(g.lookup('phone:+442070000000').kind, 'none');
    assert.equal(g.has('ada'), false);
    assert.deepEqual(g.apply(contact('bob', 'email:bob@example.com')), [], 'nothing changed');
  });
});

describe('resolving a record', () => {
  const g = graph();
  it('an e-mail alone resolves strongly; a phone alone weakly; a shared or unknown one not at all', () => {
    assert.deepEqual(resolveRecord(g, from('ada@example.com')), { kind: 'resolved', customerId: 'ada', resolution: { identifier: 'EMAIL', link: 'STRONG' } });
    assert.deepEqual(resolveRecord(g, from('tel:+447700900001')), { kind: 'resolved', customerId: 'ada', resolution: { identifier: 'PHONE', link: 'WEAK' } });
    assert.deepEqual(resolveRecord(g, from('tel:+442070000000')), { kind: 'none' });
    assert.deepEqual(resolveRecord(g, from('anonymous', 'anonymous')), { kind: 'none' });
  });

  it('a strong link outranks a weak one; identifiers pointing at two customers are a conflict', () => {
    assert.deepEqual(resolveRecord(g, from('ada@example.com', 'tel:+15550000000')).kind, 'resolved');
    assert.deepEqual(resolveRecord(g, from('bob@example.com', 'tel:+447700900001')), { kind: 'resolved', customerId: 'bob', resolution: { identifier: 'EMAIL', link: 'STRONG' } });
    const two = record({ participants: [
      { participantId: 'p1', purpose: 'customer', name: null, address: 'ada@example.com', userId: null },
      { participantId: 'p2', purpose: 'customer', name: null, address: 'bob@example.com', userId: null },
    ] });
    assert.deepEqual(resolveRecord(g, two), { kind: 'conflict', customerId: null, resolution: { identifier: 'EMAIL', link: 'CONFLICT' } });
  });

  it('the contact id Genesys linked stands, unless a strong identifier of the record belongs to someone else', () => {
    assert.deepEqual(resolveRecord(g, { ...from('tel:+447700900001'), customerId: 'bob' }), { kind: 'resolved', customerId: 'bob', resolution: null }, 'a weak link never overrides');
    assert.deepEqual(resolveRecord(g, { ...from('ada@example.com'), customerId: 'bob' }), { kind: 'conflict', customerId: 'bob', resolution: { identifier: 'EMAIL', link: 'CONFLICT' } });
  });
});

describe('resolving consent given by identifier', () => {
  const g = graph();
  const statement = (...purposes: [string, boolean][]) => ({ eventId: 'e1', capturedAt: 5, source: 'WEB' as const, purposes: purposes.map(([purpose, granted]) => ({ purpose: purpose as 'MARKETING', granted, channel: null })) });

  it('a withdrawal goes through a weak link; a grant through a weak link is refused', () => {
    const out = resolveConsent(g, 'phone:+447700900001', statement(['MARKETING', false]));
    assert.deepEqual(out.kind === 'apply' && [out.event.customerId, out.resolution], ['ada', { identifier: 'PHONE', link: 'WEAK' }]);
    assert.equal(resolveConsent(g, 'phone:+447700900001', statement(['MARKETING', true])).kind, 'refused');
    const mixed = resolveConsent(g, 'phone:+447700900001', statement(['MARKETING', true], ['ANALYTICS', false]));
    assert.deepEqual(mixed.kind === 'apply' && [mixed.event.purposes.map((p) => p.purpose), mixed.droppedGrants.map((p) => p.purpose)], [['ANALYTICS'], ['MARKETING']]);
  });

  it('a grant by e-mail applies; an identifier of nobody or of several is pending', () => {
    const out = resolveConsent(g, 'email:ada@example.com', statement(['MARKETING', true]));
    assert.deepEqual(out.kind === 'apply' && out.event, { ...statement(['MARKETING', true]), customerId: 'ada' });
    assert.equal(resolveConsent(g, 'email:new@example.com', statement(['MARKETING', true])).kind, 'pending');
    assert.equal(resolveConsent(g, 'phone:+442070000000', statement(['MARKETING', false])).kind, 'pending');
  });
});

describe('evaluate with a resolution', () => {
  const sink: SinkPolicy = { name: 'crm', requires: ['MARKETING'], fields: {}, defaultAction: 'keep' };
  const entry = (granted: boolean) => ({ granted, capturedAt: 1, source: 'WEB' as const, eventId: 'e' });
  const state = (granted: boolean): ConsentState => ({
    customerId: 'ada', complianceStatus: 'PARTIAL_OPT_IN', version: 3, updatedAt: 1,
    purposes: [{ purpose: 'MARKETING', entry: entry(granted), channels: [] }],
  });
  it('a weak link never forwards (IDENTITY_WEAK), but a withdrawal still reads as one; a conflict blocks first', () => {
    assert.deepEqual(evaluate(sink, { customerId: 'ada', channel: 'VOICE', resolvedBy: { identifier: 'EMAIL', link: 'STRONG' } }, state(true)), { kind: 'forward', consentVersion: 3 });
    assert.deepEqual(evaluate(sink, { customerId: 'ada', channel: 'VOICE', resolvedBy: { identifier: 'PHONE', link: 'WEAK' } }, state(true)), { kind: 'block', reason: 'IDENTITY_WEAK', denied: [], consentVersion: 3 });
    const withdrawn = evaluate(sink, { customerId: 'ada', channel: 'VOICE', resolvedBy: { identifier: 'PHONE', link: 'WEAK' } }, state(false));
    assert.equal(withdrawn.kind === 'block' && withdrawn.reason, 'CONSENT_WITHDRAWN');
    const conflict = evaluate(sink, { customerId: 'ada', channel: 'VOICE', resolvedBy: { identifier: 'EMAIL', link: 'CONFLICT' } }, state(true));
    assert.equal(conflict.kind === 'block' && conflict.reason, 'IDENTITY_CONFLICT');
  });
});
