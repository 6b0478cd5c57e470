import assert from 'node:assert/strict';
import { it } from 'node:test';
import fc from 'fast-check';
import { CHANNELS, type ConversationRecord } from '../../src/domain/types.ts';
import { checkConsentEvent, checkConversationRecord, ConversationRecordRules, Identifier } from '../../src/domain/validation.ts';

it('identifiers: 1–256 characters of well-formed Unicode without control characters', () => {
  for (const ok of ['5e5f814c-6295-427e-9e46-900a253c9c5b', 'x'.repeat(256), 'émile', '😀 ok']) assert.ok(Identifier.safeParse(ok).success, ok);
  const problem = (s: string) => (Identifier.safeParse(s).error?.issues ?? []).map((i) => i.message);
  assert.deepEqual(problem('x'.repeat(257)), ['longer than 256 characters']);
  assert.deepEqual(problem('a\uD800b'), ['not valid Unicode (a lone surrogate)']);
  assert.deepEqual(problem('\uDC00'), ['not valid Unicode (a lone surrogate)']);
  assert.deepEqual(problem('a\u0000b'), ['contains a control character']);
  assert.equal(Identifier.safeParse('').success, false);
  // The Kafka path: a consent event with such an id is dead-lettered (its key was hashed in linear time).
  const event = { eventId: 'e1', customerId: 'x'.repeat(250_000), capturedAt: 1, source: 'WEB' as const, purposes: [{ purpose: 'MARKETING' as const, granted: false, channel: null }] };
  const check = checkConsentEvent(event.customerId, event);
  assert.equal(check.ok, false);
  assert.match(check.ok ? '' : check.reason, /^customerId: longer than 256 characters/);
});

it('a conversation record passes the hot-path check exactly when it passes the schema (and its key is its customer)', () => {
  const text = fc.oneof(fc.string({ maxLength: 4 }), fc.constant(''), fc.constant('a\uD800'), fc.constant('x'.repeat(257)), fc.constant('a\u0007'), fc.constant(7 as unknown as string));
  const record = fc.record({
    recordId: text,
    conversationId: text,
    customerId: fc.oneof(text, fc.constant(null)),
    channel: fc.oneof(fc.constantFrom(...CHANNELS), fc.constant('FAX'), fc.constant('')),
    occurredAt: fc.oneof(fc.integer({ min: -5, max: 2 ** 53 - 1 }), fc.constant(1.5), fc.constant(Number.NaN), fc.constant(2 ** 60)),
    kind: text,
  });
  fc.assert(fc.property(record, fc.boolean(), (r, keyed) => {
    const rec = { ...r, participants: [], ani: null, dnis: null, attributes: {}, transcript: null } as unknown as ConversationRecord;
    const key = keyed ? rec.customerId : 'someone-else';
    const check = checkConversationRecord(key, rec);
    const schemaOk = ConversationRecordRules.safeParse(rec).success;
    assert.equal(check.ok, schemaOk && (rec.customerId === null || key === rec.customerId));
    if (!schemaOk) assert.ok(!check.ok && check.reason.length > 0);
  }), { numRuns: 3000, seed: 20261130 });
});
