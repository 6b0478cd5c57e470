import type { Channel, ConsentEvent, ConversationRecord, Purpose } from '../domain/types.ts';
import { CHANNELS, PURPOSES } from '../domain/types.ts';

/** Small seeded PRNG (mulberry32): the same seed gives the same traffic. */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const NAMES = ['Ana Silva', 'Bo Chen', 'Chidi Okafor', 'Dana Levi', 'Emil Novak', 'Fatima Zahra', 'Goran Ilic', 'Hana Sato'];

export function consentEvent(rand: () => number, customerId: string, capturedAt: number, grants: Partial<Record<Purpose, boolean>>, channel: Channel | null = null): ConsentEvent {
  return {
    eventId: `ce-${customerId}-${capturedAt}-${Math.floor(rand() * 1e9)}`,
    customerId,
    capturedAt,
    source: (['WEB', 'IVR', 'AGENT', 'GENESYS'] as const)[Math.floor(rand() * 4)]!,
    purposes: Object.entries(grants).map(([purpose, granted]) => ({ purpose: purpose as Purpose, granted: granted!, channel })),
  };
}

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

/** Initial grants for a customer: everything, nothing, or a mix. */
export function initialGrants(rand: () => number): Record<Purpose, boolean> {
  const out = {} as Record<Purpose, boolean>;
  for (const p of PURPOSES) out[p] = rand() < 0.7;
  return out;
}
