import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { applyConsentEvent, complianceStatusOf } from '../../src/domain/consentState.ts';
import { effectiveGrant } from '../../src/domain/policy.ts';
import type { Channel, ConsentEvent, ConsentState, Purpose } from '../../src/domain/types.ts';

let n = 0;
function ev(capturedAt: number, grants: Partial<Record<Purpose, boolean>>, channel: Channel | null = null): ConsentEvent {
  return {
    eventId: `e${++n}`,
    customerId: 'c1',
    capturedAt,
    source: 'WEB',
    purposes: Object.entries(grants).map(([purpose, granted]) => ({ purpose: purpose as Purpose, granted: granted!, channel })),
  };
}

function fold(events: ConsentEvent[]): ConsentState | undefined {
  let s: ConsentState | undefined;
  for (const e of events) s = applyConsentEvent(s, e, 1000).state;
  return s;
}

describe('consent state reduction', () => {
  it('starts at version 1 with the stated purposes and unknown others', () => {
    const s = fold([ev(10, { MARKETING: true })])!;
    assert.equal(s.version, 1);
    assert.equal(effectiveGrant(s, 'MARKETING', 'VOICE'), 'granted');
    assert.equal(effectiveGrant(s, 'ANALYTICS', 'VOICE'), 'unknown');
    assert.equal(s.complianceStatus, 'PARTIAL_OPT_IN');
  });

  it('orders by capturedAt, not arrival: a late older event does not undo a newer one', () => {
    const s = fold([ev(20, { MARKETING: false }), ev(10, { MARKETING: true })])!;
    assert.equal(effectiveGrant(s, 'MARKETING', 'CHAT'), 'withdrawn');
    assert.equal(s.version, 1, 'the stale event changes nothing');
  });

  it('a withdrawal beats a grant captured in the same millisecond, in either arrival order', () => {
    for (const order of [[true, false], [false, true]]) {
      const s = fold(order.map((g) => ev(10, { ANALYTICS: g })))!;
      assert.equal(effectiveGrant(s, 'ANALYTICS', 'VOICE'), 'withdrawn');
    }
  });

  it('a duplicate event neither changes the state nor bumps the version', () => {
    const e = ev(10, { MARKETING: true });
    const first = applyConsentEvent(undefined, e, 1);
    assert.ok(first.changed);
    const again = applyConsentEvent(first.state, e, 2);
    assert.equal(again.changed, false);
    assert.equal(again.state?.version, 1);
  });

  it('a channel override beats the purpose level; a later purpose-level statement clears older overrides', () => {
    let s = fold([ev(10, { MARKETING: true }), ev(20, { MARKETING: false }, 'SMS')])!;
    assert.equal(effectiveGrant(s, 'MARKETING', 'SMS'), 'withdrawn');
    assert.equal(effectiveGrant(s, 'MARKETING', 'EMAIL'), 'granted');
    s = applyConsentEvent(s, ev(30, { MARKETING: true }), 1).state!;
    assert.equal(effectiveGrant(s, 'MARKETING', 'SMS'), 'granted');
    assert.equal(s.version, 3);
  });

  it('ignores a channel statement older than the purpose-level one it arrived after', () => {
    const s = fold([ev(30, { MARKETING: false }), ev(20, { MARKETING: true }, 'VOICE')])!;
    assert.equal(effectiveGrant(s, 'MARKETING', 'VOICE'), 'withdrawn');
  });

  it('aggregates one compliance status', () => {
    const all = fold([ev(1, { MARKETING: true, ANALYTICS: true, THIRD_PARTY: true })])!;
    assert.equal(all.complianceStatus, 'FULLY_OPTED_IN');
    const withOverride = applyConsentEvent(all, ev(2, { ANALYTICS: false }, 'CHAT'), 1).state!;
    assert.equal(withOverride.complianceStatus, 'PARTIAL_OPT_IN');
    const none = fold([ev(1, { MARKETING: false, ANALYTICS: false, THIRD_PARTY: false })])!;
    assert.equal(none.complianceStatus, 'FULLY_OPTED_OUT');
    assert.equal(complianceStatusOf([]), 'FULLY_OPTED_IN', 'vacuous: no flags');
  });
});

describe('withdrawals always win (capture times from the future or the far past)', () => {
  const stamp = fc.integer({ min: 0, max: 4_102_444_800_000 }); // 1970 … 2100
  // Statements about MARKETING as they arrive, each received (its record's timestamp) no earlier than the one before.
  const arrivals = fc.array(fc.record({ granted: fc.boolean(), capturedAt: stamp, gap: fc.integer({ min: 0, max: 86_400_000 }) }), { minLength: 1, maxLength: 12 });

  it('a withdrawal received after every grant is in force, whatever the grants\' capture times say', () => {
    fc.assert(fc.property(arrivals, fc.integer({ min: 0, max: 60_000 }), (events, lag) => {
      let state: ConsentState | undefined;
      let received = 1_700_000_000_000;
      for (const e of events) {
        received += e.gap;
        state = applyConsentEvent(state, ev(e.capturedAt, { MARKETING: e.granted }), received, received).state;
      }
      // The withdrawal is made now: captured when it is sent, received `lag` ms later.
      received += lag + 1;
      state = applyConsentEvent(state, ev(received - lag, { MARKETING: false }), received, received).state;
      assert.equal(effectiveGrant(state!, 'MARKETING', 'VOICE'), 'withdrawn');
    }));
  });

  it('an erasure-like withdrawal of every channel beats a stored grant dated in the future (state from before the fix)', () => {
    const granted = applyConsentEvent(undefined, ev(Date.UTC(2099, 0, 1), { MARKETING: true }), 0).state; // no receipt time: taken as dated
    const now = Date.UTC(2026, 10, 30);
    const s = applyConsentEvent(granted, ev(now, { MARKETING: false }), now, now).state!;
    assert.equal(effectiveGrant(s, 'MARKETING', 'EMAIL'), 'withdrawn');
  });

  it('the outcome does not depend on arrival order when capture times are honest (before receipt)', () => {
    fc.assert(fc.property(fc.array(fc.record({ granted: fc.boolean(), capturedAt: fc.integer({ min: 0, max: 1_000_000 }) }), { minLength: 1, maxLength: 8 }), (events) => {
      const outcome = (order: typeof events) => {
        let state: ConsentState | undefined;
        for (const e of order) state = applyConsentEvent(state, ev(e.capturedAt, { MARKETING: e.granted }), 2_000_000, 2_000_000).state;
        return effectiveGrant(state!, 'MARKETING', 'VOICE');
      };
      assert.equal(outcome(events), outcome([...events].reverse()));
    }));
  });
});
