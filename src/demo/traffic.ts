import type { ConversationRecord } from '../domain/types.ts';
import { CHANNELS } from '../domain/types.ts';

const NAMES = ['Ana Silva', 'Bo Chen', 'Chidi Okafor', 'Dana Levi', 'Emil Novak', 'Fatima Zahra', 'Goran Ilic', 'Hana Sato'];

/** FNV-1a of a customer id: a known customer has one name and one phone number in every record, as callers do. */
function stableNumber(customerId: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < customerId.length; i++) h = Math.imul(h ^ customerId.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/** A synthetic conversation record (the bench's workload); an anonymous one (no customerId) gets a random caller. */
export function conversationRecord(rand: () => number, i: number, customerId: string | null, occurredAt: number): ConversationRecord {
  const caller = customerId === null ? Math.floor(rand() * 2 ** 32) : stableNumber(customerId);
  const name = NAMES[caller % NAMES.length]!;
  const phone = `+1555${String(caller % 1e7).padStart(7, '0')}`;
  return {
    recordId: `rec-${i}`,
    conversationId: `conv-${Math.floor(i / 4)}`,
    customerId,
    channel: CHANNELS[Math.floor(rand() * 3)]!,
    occurredAt,
    kind: (['conversation.start', 'segment', 'transcript', 'conversation.end'] as const)[i % 4]!,
    participants: [
      { participantId: `p-${i}-c`, purpose: 'customer', name, address: `tel:${phone}`, userId: null },
      { participantId: `p-${i}-a`, purpose: 'agent', name: 'Agent Smith', address: null, userId: 'agent-1' },
    ],
    ani: phone,
    dnis: '+18005550100',
    attributes: { queue: 'support', email: `${name.split(' ')[0]!.toLowerCase()}@example.com` },
    transcript: i % 4 === 2 ? `Customer ${name} called about order ${Math.floor(rand() * 1e5)}` : null,
  };
}
