import { z } from 'zod';
import { badRequest, fail, invalidBody, ok, type Outcome } from './errors.ts';
import { analyticsConversation, type ConversationFacts } from './conversations.ts';
import type { AnalyticsConversation } from './types.ts';

const Predicate = z.object({
  type: z.enum(['dimension', 'property', 'metric']).default('dimension'),
  dimension: z.string().optional(),
  metric: z.string().optional(),
  operator: z.enum(['matches', 'exists', 'notExists']).default('matches'),
  value: z.string().optional(),
});
const Clause = z.object({ type: z.enum(['and', 'or']), predicates: z.array(Predicate) });
const Filter = z.object({ type: z.enum(['and', 'or']), clauses: z.array(Clause).optional(), predicates: z.array(Predicate).optional() });
type Filter = z.infer<typeof Filter>;
type Predicate = z.infer<typeof Predicate>;

const common = {
  interval: z.string(),
  conversationFilters: z.array(Filter).optional(),
  segmentFilters: z.array(Filter).optional(),
  order: z.enum(['asc', 'desc']).optional(),
  orderBy: z.string().optional(),
};
/** ConversationQuery (synchronous details query). */
export const ConversationQuery = z.object({ ...common, paging: z.object({ pageSize: z.number().int().min(1).max(100).optional(), pageNumber: z.number().int().min(1).optional() }).optional() });
/** AsyncConversationQuery (details job). */
export const AsyncConversationQuery = z.object({ ...common, limit: z.number().int().min(1).optional(), startOfDayIntervalMatching: z.boolean().optional() });

const CONVERSATION_DIMENSIONS = ['conversationId', 'conversationStart', 'conversationEnd', 'originatingDirection', 'divisionId'];
const SEGMENT_DIMENSIONS = ['purpose', 'participantId', 'userId', 'externalContactId', 'sessionId', 'mediaType', 'direction', 'ani', 'dnis', 'provider', 'segmentType', 'segmentStart', 'segmentEnd', 'queueId', 'disconnectType'];

type Row = Record<string, string | undefined>;
const WEEK_MS = 7 * 24 * 3600_000;

export interface Selection {
  from: number;
  to: number;
  conversationFilters: Filter[];
  segmentFilters: Filter[];
  descending: boolean;
}

function parseInterval(interval: string): Outcome<{ from: number; to: number }> {
  const [a, b, extra] = interval.split('/');
  const from = Date.parse(a ?? '');
  const to = Date.parse(b ?? '');
  if (extra !== undefined || Number.isNaN(from) || Number.isNaN(to)) return fail(badRequest(`interval '${interval}' must be two ISO-8601 instants 'start/end'`, 'invalid.value'));
  if (from >= to) return fail(badRequest('interval start must be before its end', 'invalid.value'));
  return ok({ from, to });
}

function checkFilters(filters: Filter[], allowed: string[]): Outcome<Filter[]> {
  const preds = filters.flatMap((f) => [...(f.predicates ?? []), ...(f.clauses ?? []).flatMap((c) => c.predicates)]);
  const bad = preds.find((p) => p.type !== 'dimension' || !p.dimension || !allowed.includes(p.dimension));
  if (bad) return fail(badRequest(`The simulator does not support the predicate ${JSON.stringify(bad)}; supported dimensions: ${allowed.join(', ')}`, 'invalid.value'));
  const noValue = preds.find((p) => p.operator === 'matches' && p.value === undefined);
  if (noValue) return fail(badRequest(`Predicate on ${noValue.dimension} with operator matches needs a value`, 'invalid.value'));
  return ok(filters);
}

/** Validates a (sync or async) query body into a selection; sync queries may span at most 7 days. */
export function parseSelection(body: unknown, kind: 'sync' | 'async'): Outcome<{ selection: Selection; body: z.infer<typeof ConversationQuery> & z.infer<typeof AsyncConversationQuery> }> {
  const parsed = (kind === 'sync' ? ConversationQuery : AsyncConversationQuery).safeParse(body);
  if (!parsed.success) return fail(invalidBody(parsed.error));
  const interval = parseInterval(parsed.data.interval);
  if (!interval.ok) return interval;
  if (kind === 'sync' && interval.value.to - interval.value.from > WEEK_MS) return fail(badRequest('The interval of a conversation details query must not exceed 7 days', 'invalid.value'));
  const cf = checkFilters(parsed.data.conversationFilters ?? [], CONVERSATION_DIMENSIONS);
  if (!cf.ok) return cf;
  const sf = checkFilters(parsed.data.segmentFilters ?? [], SEGMENT_DIMENSIONS);
  if (!sf.ok) return sf;
  const selection = { ...interval.value, conversationFilters: cf.value, segmentFilters: sf.value, descending: parsed.data.order === 'desc' };
  return ok({ selection, body: parsed.data });
}

const holds = (p: Predicate, row: Row): boolean => {
  const v = row[p.dimension!];
  return p.operator === 'exists' ? v !== undefined : p.operator === 'notExists' ? v === undefined : v === p.value;
};
const combine = (type: 'and' | 'or', results: boolean[]) => (type === 'and' ? results.every(Boolean) : results.some(Boolean));
const passes = (f: Filter, row: Row): boolean =>
  combine(f.type, [...(f.predicates ?? []).map((p) => holds(p, row)), ...(f.clauses ?? []).map((c) => combine(c.type, c.predicates.map((p) => holds(p, row))))]);

function conversationRow(c: AnalyticsConversation): Row {
  return { conversationId: c.conversationId, conversationStart: c.conversationStart, conversationEnd: c.conversationEnd, originatingDirection: c.originatingDirection, divisionId: c.divisionIds[0] };
}

function segmentRows(c: AnalyticsConversation): Row[] {
  return c.participants.flatMap((p) =>
    p.sessions.flatMap((s) =>
      s.segments.map((g) => ({
        purpose: p.purpose, participantId: p.participantId, userId: p.userId, externalContactId: p.externalContactId,
        sessionId: s.sessionId, mediaType: s.mediaType, direction: s.direction, ani: s.ani, dnis: s.dnis, provider: s.provider,
        segmentType: g.segmentType, segmentStart: g.segmentStart, segmentEnd: g.segmentEnd, queueId: g.queueId, disconnectType: g.disconnectType,
      })),
    ),
  );
}

/** Conversations starting in [from, to) that pass every filter, by conversationStart (then id), as of now. */
export function select(all: ConversationFacts[], s: Selection): AnalyticsConversation[] {
  const hits = all
    .filter((f) => f.start >= s.from && f.start < s.to)
    .sort((a, b) => a.start - b.start || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
    .map(analyticsConversation)
    .filter((c) => s.conversationFilters.every((f) => passes(f, conversationRow(c))))
    .filter((c) => s.segmentFilters.every((f) => segmentRows(c).some((row) => passes(f, row))));
  return s.descending ? hits.reverse() : hits;
}
