import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { applyConsentEvent } from '../../src/domain/consentState.ts';
import { endSessionCommands, trackConversation, type ActiveSessions } from '../../src/domain/sessionGuard.ts';
import type { Channel, ConsentEvent, ConsentState, ConversationRecord, Purpose } from '../../src/domain/types.ts';

const record = (kind: string, conversationId: string, occurredAt: number, channel: Channel = 'VOICE'): ConversationRecord => ({
  recordId: `${conversationId}:${kind}`, conversationId, customerId: 'c1', channel, occurredAt, kind,
  participants: [], ani: null, dnis: null, attributes: {}, transcript: null,
});
const consent = (state: ConsentState | undefined, at: number, purposes: [Purpose, boolean, Channel | null][]): ConsentState => {
  const e: ConsentEvent = { eventId: `e${at}`, customerId: 'c1', capturedAt: at, source: 'WEB', purposes: purposes.map(([purpose, granted, channel]) => ({ purpose, granted, channel })) };
  return applyConsentEvent(state, e, at).state!;
};
const policy = { purposes: ['MARKETING', 'ANALYTICS'] as Purpose[], disconnectAfterMs: 30_000 };

describe('session guard', () => {
  it('tracks live conversations from start and end records', () => {
    let s = trackConversation(undefined, record('customer.start', 'k1', 100), 100) as ActiveSessions;
    s = trackConversation(s, record('customer.start', 'k2', 110), 110) as ActiveSessions;
    assert.deepEqual(s.conversations.map((c) => c.conversationId), ['k1', 'k2']);
    assert.equal(trackConversation(s, record('segment', 'k1', 120), 120), undefined, 'other kinds change nothing');
    s = trackConversation(s, record('customer.end', 'k1', 130), 130) as ActiveSessions;
    assert.deepEqual(s.conversations.map((c) => c.conversationId), ['k2']);
    assert.equal(trackConversation(s, record('customer.end', 'k2', 140), 140), null, 'nothing live: the entry goes');
  });

  it('ends a conversation that was live when a guarded purpose was withdrawn, once', () => {
    const live = trackConversation(undefined, record('customer.start', 'k1', 100), 100) as ActiveSessions;
    const granted = consent(undefined, 50, [['MARKETING', true, null], ['ANALYTICS', true, null]]);
    assert.equal(endSessionCommands(live, granted, policy, 150).commands.length, 0);
    const withdrawn = consent(granted, 200, [['MARKETING', false, null]]);
    const r = endSessionCommands(live, withdrawn, policy, 210);
    assert.deepEqual(r.commands.map((c) => [c.conversationId, c.withdrawnPurposes, c.consentCapturedAt, c.disconnectAt]), [['k1', ['MARKETING'], 200, 30_210]]);
    assert.equal(endSessionCommands(r.sessions, withdrawn, policy, 220).commands.length, 0, 'commanded once');
  });

  it('leaves alone conversations that started after the withdrawal, other channels, and unguarded purposes', () => {
    const optedOut = consent(undefined, 50, [['MARKETING', false, null]]);
    const later = trackConversation(undefined, record('customer.start', 'k1', 100), 100) as ActiveSessions;
    assert.equal(endSessionCommands(later, optedOut, policy, 120).commands.length, 0);
    const live = trackConversation(undefined, record('customer.start', 'k2', 100, 'CHAT'), 100) as ActiveSessions;
    const voiceOnly = consent(consent(undefined, 10, [['MARKETING', true, null]]), 200, [['MARKETING', false, 'VOICE']]);
    assert.equal(endSessionCommands(live, voiceOnly, policy, 210).commands.length, 0, 'a VOICE override does not end a chat');
    const thirdParty = consent(undefined, 200, [['THIRD_PARTY', false, null]]);
    assert.equal(endSessionCommands(live, thirdParty, policy, 210).commands.length, 0);
  });
});
