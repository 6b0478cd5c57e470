import { z } from 'zod';
import { CHANNELS, CONSENT_SOURCES, PURPOSES, type ConsentEvent, type ConversationRecord } from './types.ts';

/** Longest identifier accepted (customer ids are Genesys UUIDs, 36 characters; other systems' ids fit too). */
export const MAX_ID_LENGTH = 256;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const CONTROL = /[\u0000-\u001F\u007F]/;

/**
 * A customer or event id: 1–256 characters of well-formed Unicode without control characters. A lone surrogate
 * would be written to Kafka as U+FFFD, so two different ids could become one key; a NUL or a 200 KB id is a client's
 * error, checked before any work.
 */
export const Identifier = z
  .string()
  .min(1)
  .max(MAX_ID_LENGTH, `longer than ${MAX_ID_LENGTH} characters`)
  .refine((s) => !LONE_SURROGATE.test(s), 'not valid Unicode (a lone surrogate)')
  .refine((s) => !CONTROL.test(s), 'contains a control character');

/** Semantic checks beyond the Avro schema: ids present, statements well-formed, the key that placed the record. */
export const ConsentEventRules = z.object({
  eventId: Identifier,
  customerId: Identifier,
  capturedAt: z.number().int().positive(),
  source: z.enum(CONSENT_SOURCES),
  purposes: z
    .array(z.object({ purpose: z.enum(PURPOSES), granted: z.boolean(), channel: z.enum(CHANNELS).nullable() }))
    .min(1, 'states no purpose')
    .refine((ps) => new Set(ps.map((p) => `${p.purpose}/${p.channel}`)).size === ps.length, 'states the same purpose and channel twice'),
});

export const ConversationRecordRules = z.object({
  recordId: z.string().min(1),
  conversationId: z.string().min(1),
  customerId: Identifier.nullable(),
  channel: z.enum(CHANNELS),
  occurredAt: z.number().int().nonnegative(),
  kind: z.string().min(1),
});

export type Check = { ok: true } | { ok: false; reason: string };

function firstIssue(r: z.ZodSafeParseResult<unknown>): Check {
  if (r.success) return { ok: true };
  return { ok: false, reason: r.error.issues.map((i) => `${i.path.join('.') || 'value'}: ${i.message}`).join('; ') };
}

/** The key must be the customer id: it placed the record on the partition whose task holds that customer's consent. */
function keyMatches(key: string | null, customerId: string | null): Check {
  if (customerId === null || key === customerId) return { ok: true };
  return { ok: false, reason: 'record key is not the customerId, so it may sit on a partition without that customer\'s consent' };
}

export function checkConsentEvent(key: string | null, e: ConsentEvent): Check {
  const c = firstIssue(ConsentEventRules.safeParse(e));
  return c.ok ? keyMatches(key, e.customerId) : c;
}

const CHANNEL_SET: ReadonlySet<string> = new Set(CHANNELS);
const isIdentifier = (s: unknown) => typeof s === 'string' && s.length >= 1 && s.length <= MAX_ID_LENGTH && !LONE_SURROGATE.test(s) && !CONTROL.test(s);
const nonEmpty = (s: unknown) => typeof s === 'string' && s.length >= 1;

/**
 * ConversationRecordRules for the hot path: true only when the schema would accept the record (every record passes
 * here once per sink decision; zod's parse was 3% of the pipeline's CPU). A record it rejects goes to the schema,
 * which says why.
 */
function plainlyValid(r: ConversationRecord): boolean {
  return nonEmpty(r.recordId) && nonEmpty(r.conversationId) && (r.customerId === null || isIdentifier(r.customerId)) &&
    CHANNEL_SET.has(r.channel) && Number.isSafeInteger(r.occurredAt) && r.occurredAt >= 0 && nonEmpty(r.kind);
}

export function checkConversationRecord(key: string | null, r: ConversationRecord): Check {
  const c = plainlyValid(r) ? { ok: true as const } : firstIssue(ConversationRecordRules.safeParse(r));
  return c.ok ? keyMatches(key, r.customerId) : c;
}
