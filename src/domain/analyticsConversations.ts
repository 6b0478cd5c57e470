import { z } from 'zod';
import { channelOfMedia, conversationRecordOf, type CustomerEventKind, type Mapped } from './genesysEvents.ts';
import type { ExportRecord, Participant } from './types.ts';

/**
 * Analytics conversation details (the REST query and async jobs) → the contract. Backfill rebuilds the very
 * customer.start/end records the WebSocket would have delivered (same ids), so a gap is filled without
 * duplicating what did arrive; the bulk export turns each conversation into ExportRecords.
 */

const Segment = z.object({ segmentStart: z.string().nullish(), segmentEnd: z.string().nullish(), segmentType: z.string().nullish(), disconnectType: z.string().nullish() });
const Session = z.object({
  sessionId: z.string().min(1),
  mediaType: z.string().min(1),
  direction: z.string().nullish(),
  ani: z.string().nullish(),
  dnis: z.string().nullish(),
  provider: z.string().nullish(),
  segments: z.array(Segment).nullish(),
});
const AnalyticsParticipant = z.object({
  participantId: z.string().min(1),
  participantName: z.string().nullish(),
  purpose: z.string(),
  userId: z.string().nullish(),
  externalContactId: z.string().nullish(),
  sessions: z.array(Session).nullish(),
});
export const AnalyticsConversation = z.object({
  conversationId: z.string().min(1),
  conversationStart: z.string(),
  conversationEnd: z.string().nullish(),
  originatingDirection: z.string().nullish(),
  participants: z.array(AnalyticsParticipant).default([]),
});
export type AnalyticsConversation = z.infer<typeof AnalyticsConversation>;

function lastDisconnect(segments: z.infer<typeof Segment>[] | null | undefined): string | null {
  for (const s of [...(segments ?? [])].reverse()) if (s.disconnectType) return s.disconnectType;
  return null;
}

function parse(raw: unknown): { ok: true; c: AnalyticsConversation } | { ok: false; reason: string } {
  const r = AnalyticsConversation.safeParse(raw);
  if (r.success) return { ok: true, c: r.data };
  return { ok: false, reason: `analytics conversation: ${r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}` };
}

/**
 * The customer.start (at conversationStart) and, once ended, customer.end (at conversationEnd) records of every
 * customer session, restricted to events whose time falls in [from, to).
 */
export function customerRecordsOf(raw: unknown, from = -Infinity, to = Infinity): Mapped[] {
  const p = parse(raw);
  if (!p.ok) return [{ kind: 'invalid', reason: p.reason }];
  const c = p.c;
  const out: Mapped[] = [];
  const times: [CustomerEventKind, number][] = [['customer.start', Date.parse(c.conversationStart)]];
  if (c.conversationEnd) times.push(['customer.end', Date.parse(c.conversationEnd)]);
  for (const participant of c.participants.filter((x) => x.purpose === 'customer')) {
    for (const s of participant.sessions ?? []) {
      for (const [kind, eventTime] of times) {
        if (!(eventTime >= from && eventTime < to)) continue;
        out.push(conversationRecordOf(kind, {
          eventTime,
          conversationId: c.conversationId,
          participantId: participant.participantId,
          sessionId: s.sessionId,
          mediaType: s.mediaType,
          externalContactId: participant.externalContactId ?? null,
          direction: s.direction ?? null,
          ani: s.ani ?? null,
          dnis: s.dnis ?? null,
          provider: s.provider ?? null,
          disconnectType: kind === 'customer.end' ? lastDisconnect(s.segments) : null,
        }));
      }
    }
  }
  return out;
}

/**
 * One ExportRecord per customer participant of a conversation (one per conversation when it has none), stamped
 * with the Genesys job id and the export version. The record id names the export run, not the job, so a page
 * re-read after a crash (or from a resubmitted job) rewrites the same ids.
 */
export function exportRecordsOf(raw: unknown, stamp: { exportId: string; jobId: string; version: number }): { key: string; value: ExportRecord }[] | { invalid: string } {
  const p = parse(raw);
  if (!p.ok) return { invalid: p.reason };
  const c = p.c;
  const customers = c.participants.filter((x) => x.purpose === 'customer');
  const firstSession = customers.flatMap((x) => x.sessions ?? [])[0] ?? c.participants.flatMap((x) => x.sessions ?? [])[0];
  const channel = firstSession ? channelOfMedia(firstSession.mediaType) : null;
  if (!channel) return { invalid: `conversation ${c.conversationId}: no session with a media type that maps to a consent channel` };
  const participants: Participant[] = c.participants.map((x) => ({
    participantId: x.participantId,
    purpose: x.purpose,
    name: x.participantName ?? null,
    address: x.purpose === 'customer' ? (x.sessions?.[0]?.ani ?? null) : null,
    userId: x.userId ?? null,
  }));
  const attributes: Record<string, string> = { mediaType: firstSession!.mediaType.toLowerCase() };
  if (c.originatingDirection) attributes.direction = c.originatingDirection.toLowerCase();
  if (c.conversationEnd) attributes.conversationEnd = c.conversationEnd;
  const subjects = customers.length ? customers.map((x) => ({ id: x.participantId, customerId: x.externalContactId ?? null, s: x.sessions?.[0] })) : [{ id: 'conversation', customerId: null, s: firstSession }];
  return subjects.map(({ id, customerId, s }) => ({
    key: customerId ?? c.conversationId,
    value: {
      recordId: `${stamp.exportId}:${c.conversationId}:${id}`,
      conversationId: c.conversationId,
      customerId,
      channel,
      occurredAt: Date.parse(c.conversationStart),
      kind: 'conversation.detail',
      participants,
      ani: s?.ani ?? null,
      dnis: s?.dnis ?? null,
      attributes,
      transcript: null,
      exportJobId: stamp.jobId,
      exportVersion: stamp.version,
    },
  }));
}
