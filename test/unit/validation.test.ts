import assert from 'node:assert/strict';
import { it } from 'node:test';
import { checkConsentEvent, Identifier } from '../../src/domain/validation.ts';

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
