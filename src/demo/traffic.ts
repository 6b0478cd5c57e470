import type { ConversationRecord } from '../domain/types.ts';
import { CHANNELS } from '../domain/types.ts';

const NAMES = ['Ana Silva', 'Bo Chen', 'Chidi Okafor', 'Dana Levi', 'Emil Novak', 'Fatima Zahra', 'Goran Ilic', 'Hana Sato'];

export function conversationRecord(rand: () => number, i: number, customerId: string | null, occurredAt: number): ConversationRecord {
  const name = NAMES[Math.floor(rand() * NAMES.length)]!;
  const phone = `+1555${String(Math.floor(rand() * 1e7)).padStart(7, '0')}`;
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
