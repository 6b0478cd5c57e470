import type { Serde } from '../runtime/records.ts';
import { endSessionCommands, trackConversation, type ActiveSessions, type SessionCommand, type SessionGuardPolicy } from '../domain/sessionGuard.ts';
import type { ConsentEvent, ConsentState, ConversationRecord } from '../domain/types.ts';
import { checkConsentEvent, checkConversationRecord } from '../domain/validation.ts';
import type { ProcessorLogic } from '../runtime/builder.ts';
import type { KeyValueStore, ProcessorContext } from '../runtime/processor.ts';

export interface SessionGuardDeps {
  consent: KeyValueStore<ConsentState>;
  sessions: KeyValueStore<ActiveSessions>;
  policy: SessionGuardPolicy;
  commandsTopic: string;
  commandSerde: Serde<SessionCommand>;
}

/** Issues the commands a customer's live conversations need now, and records that they were issued. */
function guard(d: SessionGuardDeps, customerId: string, ctx: ProcessorContext): void {
  const sessions = d.sessions.get(customerId);
  if (!sessions) return;
  const r = endSessionCommands(sessions, d.consent.get(customerId), d.policy, ctx.clock.now());
  if (!r.commands.length) return;
  d.sessions.put(customerId, r.sessions);
  for (const c of r.commands) ctx.emit({ topic: d.commandsTopic, key: c.conversationId, value: d.commandSerde.encode(c) });
}

/*
 * The active-session guard, as two processors sharing the active-sessions store (changelog session.state), both in
 * the task's transaction. Invalid input is the consent table's and the enforcement's to dead-letter; these skip it.
 */

/**
 * `session-guard` reads consent.events after the consent table applied them: a withdrawal of a guarded purpose
 * captured while a conversation of that customer was live issues END_SESSION on session.commands, at once.
 */
export function sessionGuardProcessor(d: SessionGuardDeps): ProcessorLogic<ConsentEvent> {
  return {
    process(input, event, ctx) {
      if (!checkConsentEvent(input.key?.toString('utf8') ?? null, event).ok) return;
      guard(d, event.customerId, ctx);
    },
  };
}

/**
 * `session-tracker` reads conversation records: customer.start makes a conversation live, customer.end ends it; a
 * conversation that starts after a withdrawal made while it was live elsewhere is checked too.
 */
export function sessionTrackerProcessor(d: SessionGuardDeps): ProcessorLogic<ConversationRecord> {
  return {
    process(input, record, ctx) {
      if (!record.customerId || !checkConversationRecord(input.key?.toString('utf8') ?? null, record).ok) return;
      const next = trackConversation(d.sessions.get(record.customerId), record, ctx.clock.now());
      if (next === undefined) return;
      if (next === null) d.sessions.delete(record.customerId);
      else {
        d.sessions.put(record.customerId, next);
        guard(d, record.customerId, ctx);
      }
    },
  };
}
