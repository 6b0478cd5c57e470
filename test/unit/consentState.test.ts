import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
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
