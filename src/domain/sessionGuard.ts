import type { Channel, ConsentEntry, ConsentState, ConversationRecord, Purpose } from './types.ts';

/**
 * The active-session guard: which of a customer's conversations are live, and which must end because the customer
 * withdrew consent while they were live (the guide's "retroactive opt-out during an active session"). Pure: the
 * processors keep the state in a store and emit the commands.
 */

export interface ActiveConversation {
  conversationId: string;
  channel: Channel;
  startedAt: number;
  /** When an end-session command was issued for it; a conversation is commanded once. */
  commandedAt: number | null;
}

export interface ActiveSessions {
  customerId: string;
  conversations: ActiveConversation[];
  updatedAt: number;
}

export interface SessionGuardPolicy {
  /** Withdrawing any of these during a live conversation ends it. */
  purposes: Purpose[];
  /** How long the conversation may stay live after the command before the executor disconnects it in Genesys. */
  disconnectAfterMs: number;
}

export interface SessionCommand {
  commandId: string;
  type: 'END_SESSION';
  conversationId: string;
  customerId: string;
  channel: Channel;
  reason: 'CONSENT_WITHDRAWN';
  withdrawnPurposes: Purpose[];
  consentCapturedAt: number;
  conversationStartedAt: number;
  issuedAt: number;
  /** Not before this moment does the executor disconnect the conversation if it is still live. */
  disconnectAt: number;
}

export const SESSION_START_KINDS = ['customer.start'];
export const SESSION_END_KINDS = ['customer.end'];

/** Folds a conversation record into the live set: start adds, end removes. Null when nothing is live any more. */
export function trackConversation(current: ActiveSessions | undefined, r: ConversationRecord, now: number): ActiveSessions | null | undefined {
  if (!r.customerId) return undefined;
  const conversations = current?.conversations ?? [];
  const known = conversations.some((c) => c.conversationId === r.conversationId);
  if (SESSION_START_KINDS.includes(r.kind) && !known) {
    return { customerId: r.customerId, conversations: [...conversations, { conversationId: r.conversationId, channel: r.channel, startedAt: r.occurredAt, commandedAt: null }], updatedAt: now };
  }
  if (SESSION_END_KINDS.includes(r.kind) && known) {
    const left = conversations.filter((c) => c.conversationId !== r.conversationId);
    return left.length ? { ...current!, conversations: left, updatedAt: now } : null;
  }
  return undefined;
}

/** The flag that governs `purpose` on `channel` (channel override first), as the enforcement reads it. */
function governing(state: ConsentState, purpose: Purpose, channel: Channel): ConsentEntry | null {
  const slot = state.purposes.find((p) => p.purpose === purpose);
  return slot?.channels.find((c) => c.channel === channel) ?? slot?.entry ?? null;
}

/**
 * End-session commands for every live, not yet commanded conversation whose customer withdrew a guarded purpose
 * after it started (for its channel). A withdrawal captured before the conversation started does not end it: the
 * customer had already opted out and the enforcement keeps its data from the sinks.
 */
export function endSessionCommands(sessions: ActiveSessions, state: ConsentState | undefined, policy: SessionGuardPolicy, now: number): { sessions: ActiveSessions; commands: SessionCommand[] } {
  if (!state) return { sessions, commands: [] };
  const commands: SessionCommand[] = [];
  const conversations = sessions.conversations.map((c) => {
    if (c.commandedAt !== null) return c;
    const withdrawn = policy.purposes
      .map((purpose) => ({ purpose, entry: governing(state, purpose, c.channel) }))
      .filter((w) => w.entry && !w.entry.granted && w.entry.capturedAt >= c.startedAt);
    if (!withdrawn.length) return c;
    const consentCapturedAt = Math.max(...withdrawn.map((w) => w.entry!.capturedAt));
    commands.push({
      commandId: `${c.conversationId}:${consentCapturedAt}`,
      type: 'END_SESSION',
      conversationId: c.conversationId,
      customerId: sessions.customerId,
      channel: c.channel,
      reason: 'CONSENT_WITHDRAWN',
      withdrawnPurposes: withdrawn.map((w) => w.purpose),
      consentCapturedAt,
      conversationStartedAt: c.startedAt,
      issuedAt: now,
      disconnectAt: now + policy.disconnectAfterMs,
    });
    return { ...c, commandedAt: now };
  });
  return commands.length ? { sessions: { ...sessions, conversations, updatedAt: now }, commands } : { sessions, commands };
}
