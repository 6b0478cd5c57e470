import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { customerRecordsOf, exportRecordsOf } from '../../src/domain/analyticsConversations.ts';
import { consentEventOfContact, consentWritebackOf, mapNotification, parseNotification, unwrapEventBridge } from '../../src/domain/genesysEvents.ts';
import type { ConsentEvent } from '../../src/domain/types.ts';

const start = {
  eventTime: 1_763_900_000_000, conversationId: 'c1', participantId: 'p1', sessionId: 's1', mediaType: 'voice',
  externalContactId: 'contact-1', direction: 'inbound', ani: 'tel:+15550001', dnis: 'tel:+18005550100', provider: 'Edge',
};

const conversation = {
  conversationId: 'c1',
  conversationStart: new Date(start.eventTime).toISOString(),
  conversationEnd: new Date(start.eventTime + 60_000).toISOString(),
  originatingDirection: 'inbound',
  participants: [
    { participantId: 'p1', purpose: 'customer', externalContactId: 'contact-1', sessions: [{ sessionId: 's1', mediaType: 'voice', direction: 'inbound', ani: 'tel:+15550001', dnis: 'tel:+18005550100', provider: 'Edge', segments: [{ segmentStart: 'x', segmentEnd: 'y', segmentType: 'interact', disconnectType: 'client' }] }] },
    { participantId: 'p2', purpose: 'agent', userId: 'agent-1', sessions: [{ sessionId: 's2', mediaType: 'voice' }] },
  ],
};

describe('mapNotification', () => {
  it('maps customer.start to a record keyed by the external contact, with a deterministic id', () => {
    const m = mapNotification('v2.detail.events.conversation.c1.customer.start', start);
    assert.equal(m.kind, 'conversation');
    if (m.kind !== 'conversation') return;
    assert.equal(m.key, 'contact-1');
    assert.equal(m.value.recordId, 'c1:p1:s1:customer.start');
    assert.equal(m.value.channel, 'VOICE');
    assert.equal(m.value.occurredAt, start.eventTime);
  });

  it('keys a conversation without external contact by its conversation id, customerId null', () => {
    const m = mapNotification('v2.detail.events.conversation.c1.customer.end', { ...start, externalContactId: undefined, disconnectType: 'client' });
    assert.equal(m.kind === 'conversation' && m.key, 'c1');
    assert.equal(m.kind === 'conversation' && m.value.customerId, null);
    assert.equal(m.kind === 'conversation' && m.value.attributes.disconnectType, 'client');
  });

  const cases: [string, string, unknown, string][] = [
    ['missing eventTime', 'v2.detail.events.conversation.c1.customer.start', { ...start, eventTime: undefined }, 'invalid'],
    ['media without consent channel', 'v2.detail.events.conversation.c1.customer.start', { ...start, mediaType: 'screenshare' }, 'invalid'],
    ['other detail event', 'v2.detail.events.conversation.c1.acd.start', start, 'ignored'],
    ['user topic', 'v2.users.u1.presence', {}, 'ignored'],
    ['audit of a user', 'v2.audits.entitytype.User.entityid.u1', { id: 'a', eventTime: '2026-01-01T00:00:00Z', action: 'Update', entityType: 'User', entity: { id: 'u1' } }, 'ignored'],
  ];
  for (const [name, topic, body, kind] of cases) it(`${name} → ${kind}`, () => assert.equal(mapNotification(topic, body).kind, kind));

  it('maps an OAuth client audit event to an IntegrationChange', () => {
    const m = mapNotification('v2.audits.entitytype.OAuthClient.entityid.oc1', {
      id: 'a1', eventTime: '2021-05-31T09:49:25.000Z', action: 'Delete', entityType: 'OAuthClient', entity: { id: 'oc1', name: 'My OAuth Client' },
      userId: 'u9', propertyChanges: [{ property: 'scopes', oldValues: ['users'] }],
    });
    assert.equal(m.kind, 'integration');
    if (m.kind !== 'integration') return;
    assert.deepEqual([m.key, m.value.action, m.value.entityType, m.value.changeId, m.value.changedBy], ['oc1', 'DELETE', 'OAUTH_CLIENT', 'audit:a1', 'u9']);
    assert.deepEqual(m.value.propertyChanges, [{ property: 'scopes', oldValues: ['users'], newValues: [] }]);
  });
});

describe('consentEventOfContact', () => {
  const contact = (customFields: Record<string, unknown>) => ({ id: 'contact-1', modifyDate: '2026-11-01T10:00:00.000Z', customFields });

  it('reads the type-suffixed ComplianceConsent fields', () => {
    const m = consentEventOfContact(contact({
      consent_marketing_checkbox: false, consent_analytics_checkbox: true, last_consent_timestamp_datetime: '2026-11-02T08:00:00.000Z', consent_source_text: 'Phone',
    }));
    assert.equal(m.kind, 'consent');
    if (m.kind !== 'consent') return;
    assert.equal(m.value.capturedAt, Date.parse('2026-11-02T08:00:00.000Z'));
    assert.equal(m.value.source, 'PHONE');
    assert.deepEqual(m.value.purposes, [{ purpose: 'MARKETING', granted: false, channel: null }, { purpose: 'ANALYTICS', granted: true, channel: null }]);
  });

  it('gives the same event id for the same contact state, another for a change', () => {
    const a = consentEventOfContact(contact({ consent_marketing: true, last_consent_timestamp: '2026-11-02T08:00:00Z' }));
    const b = consentEventOfContact(contact({ consent_marketing: true, last_consent_timestamp: '2026-11-02T08:00:00Z' }));
    const c = consentEventOfContact(contact({ consent_marketing: false, last_consent_timestamp: '2026-11-02T09:00:00Z' }));
    assert.equal(a.kind === 'consent' && b.kind === 'consent' && a.value.eventId === b.value.eventId, true);
    assert.notEqual(a.kind === 'consent' && a.value.eventId, c.kind === 'consent' && c.value.eventId);
  });

  it('falls back to modifyDate, gives only the identifiers of contacts without flags, rejects non-boolean flags', () => {
    const m = consentEventOfContact(contact({ consent_third_party: true }));
    assert.equal(m.kind === 'consent' && m.value.capturedAt, Date.parse('2026-11-01T10:00:00.000Z'));
    const bare = consentEventOfContact({ ...contact({ favourite_colour_text: 'red' }), workEmail: ' Ada@Example.COM', cellPhone: { e164: '+44 7700 900001' } });
    assert.deepEqual(bare.kind === 'contact' && bare.value.identifiers, ['email:ada@example.com', 'phone:+447700900001']);
    assert.equal(consentEventOfContact(contact({ consent_marketing_checkbox: 'yes' })).kind, 'invalid');
    assert.equal(consentEventOfContact({ customFields: {} }).kind, 'invalid');
  });
});

describe('analytics conversations', () => {
  it('rebuilds the same records the socket delivers, restricted to the gap', () => {
    const all = customerRecordsOf(conversation);
    assert.deepEqual(all.map((m) => m.kind === 'conversation' && m.value.recordId), ['c1:p1:s1:customer.start', 'c1:p1:s1:customer.end']);
    const live = mapNotification('v2.detail.events.conversation.c1.customer.start', start);
    assert.deepEqual(all[0], live);
    const onlyEnd = customerRecordsOf(conversation, start.eventTime + 1, Infinity);
    assert.deepEqual(onlyEnd.map((m) => m.kind === 'conversation' && m.value.kind), ['customer.end']);
  });

  it('exports one record per customer participant, stamped with job and version', () => {
    const r = exportRecordsOf(conversation, { exportId: 'x1', jobId: 'job-9', version: 1 });
    assert.ok(Array.isArray(r));
    if (!Array.isArray(r)) return;
    assert.equal(r.length, 1);
    assert.deepEqual([r[0]!.key, r[0]!.value.recordId, r[0]!.value.exportJobId, r[0]!.value.exportVersion, r[0]!.value.participants.length], ['contact-1', 'x1:c1:p1', 'job-9', 1, 2]);
    assert.ok('invalid' in (exportRecordsOf({ conversationId: 'c2' }, { exportId: 'x', jobId: 'j', version: 1 }) as object));
  });
});

describe('envelopes and write-back', () => {
  it('unwraps EventBridge envelopes and rejects others', () => {
    const ok = unwrapEventBridge({ version: '0', 'detail-type': 'v2.audits.entitytype.{id}.entityid.{id}', source: 'aws.partner/genesys.com/cloud/o/x', detail: { topicName: 't', eventBody: { a: 1 } } });
    assert.deepEqual(ok, { ok: true, topicName: 't', eventBody: { a: 1 } });
    assert.equal(unwrapEventBridge({ detail: {} }).ok, false);
    assert.equal(parseNotification('{oops').ok, false);
  });

  const event = (over: Partial<ConsentEvent>): ConsentEvent => ({
    eventId: 'e1', customerId: 'c', capturedAt: 2_000, source: 'WEB', purposes: [{ purpose: 'MARKETING', granted: false, channel: null }], ...over,
  });
  it('writes back purpose-level consent, never loops, never overwrites newer consent', () => {
    assert.deepEqual(consentWritebackOf(event({}), {}), { kind: 'update', flags: { consent_marketing: false }, capturedAt: 2_000, sourceText: 'Web' });
    assert.equal(consentWritebackOf(event({ eventId: 'genesys-contact:c:1:M0' }), {}).kind, 'skip');
    assert.equal(consentWritebackOf(event({ purposes: [{ purpose: 'MARKETING', granted: false, channel: 'SMS' }] }), {}).kind, 'skip');
    assert.equal(consentWritebackOf(event({}), { last_consent_timestamp_datetime: new Date(3_000).toISOString() }).kind, 'skip');
  });
});
