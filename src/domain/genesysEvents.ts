import { z } from 'zod';
import type { Channel, ConsentEvent, ConsentSource, ConversationRecord, Purpose, PurposeConsent } from './types.ts';
import { identitiesOfContact, type ContactIdentity, type PendingConsent } from './identity.ts';

/**
 * Maps Genesys Cloud notification events (WebSocket messages, EventBridge `detail`, REST backfill) to the topic
 * contract. Pure: the same event always maps to the same record, with a deterministic id, so a record seen twice
 * (socket and backfill, EventBridge retry) is recognisably the same record.
 */

export type Mapped =
  | { kind: 'conversation'; key: string; value: ConversationRecord }
  | { kind: 'consent'; key: string; value: ConsentEvent; contact?: ContactIdentity }
  /** A contact's identifiers for the identity graph (identity.contacts). */
  | { kind: 'contact'; key: string; value: ContactIdentity }
  /** A consent statement by an identifier that resolves to nobody yet (consent.pending, keyed by event id). */
  | { kind: 'pending'; key: string; value: PendingConsent }
  | { kind: 'integration'; key: string; value: IntegrationChange }
  | { kind: 'ignored'; reason: string }
  | { kind: 'invalid'; reason: string };

export const INTEGRATION_ENTITY_TYPES = ['OAUTH_CLIENT', 'INTEGRATION'] as const;
export type IntegrationEntityType = (typeof INTEGRATION_ENTITY_TYPES)[number];
export const INTEGRATION_ACTIONS = ['CREATE', 'UPDATE', 'DELETE'] as const;
export type IntegrationAction = (typeof INTEGRATION_ACTIONS)[number];

export interface PropertyChange {
  property: string;
  oldValues: string[];
  newValues: string[];
}

/** One observed change of an OAuth client or integration: the input of the DPIA topology. */
export interface IntegrationChange {
  changeId: string;
  integrationId: string;
  entityType: IntegrationEntityType;
  action: IntegrationAction;
  detectedBy: 'AUDIT' | 'LISTING';
  name: string | null;
  occurredAt: number;
  /** Genesys user or OAuth client id that made the change (ids only). */
  changedBy: string | null;
  propertyChanges: PropertyChange[];
  /** The current definition as Genesys returns it, secrets removed, as JSON; null after a delete. */
  definition: string | null;
  definitionHash: string | null;
}

const MEDIA_CHANNELS: Record<string, Channel> = {
  voice: 'VOICE', call: 'VOICE', callback: 'VOICE', chat: 'CHAT', email: 'EMAIL', sms: 'SMS', message: 'MESSAGING',
};

/** The Genesys media type of a customer session → the consent channel; null for media consent has no channel for. */
export function channelOfMedia(mediaType: string): Channel | null {
  return MEDIA_CHANNELS[mediaType.toLowerCase()] ?? null;
}

const CustomerEvent = z.object({
  eventTime: z.number().int().positive(),
  conversationId: z.string().min(1),
  participantId: z.string().min(1),
  sessionId: z.string().min(1),
  mediaType: z.string().min(1),
  externalContactId: z.string().min(1).nullish(),
  direction: z.string().nullish(),
  ani: z.string().nullish(),
  dnis: z.string().nullish(),
  provider: z.string().nullish(),
  disconnectType: z.string().nullish(),
});
export type CustomerEvent = z.infer<typeof CustomerEvent>;
export const CUSTOMER_EVENT_KINDS = ['customer.start', 'customer.end'] as const;
export type CustomerEventKind = (typeof CUSTOMER_EVENT_KINDS)[number];

function issues(e: z.ZodError): string {
  return e.issues.map((i) => `${i.path.join('.') || 'eventBody'}: ${i.message}`).join('; ');
}

/**
 * A customer.start/end detail event → a ConversationRecord keyed by the customer (external contact) id, or by
 * the conversation id when the conversation has no known customer (the enforcement then blocks it NO_SUBJECT).
 */
export function conversationRecordOf(kind: CustomerEventKind, e: CustomerEvent): Mapped {
  const channel = channelOfMedia(e.mediaType);
  if (!channel) return { kind: 'invalid', reason: `mediaType ${e.mediaType} maps to no consent channel` };
  const customerId = e.externalContactId ?? null;
  // Detail events spell enums in upper case, analytics in lower case: one spelling, so both paths give one record.
  const attributes: Record<string, string> = { mediaType: e.mediaType.toLowerCase() };
  if (e.direction) attributes.direction = e.direction.toLowerCase();
  if (e.provider) attributes.provider = e.provider;
  if (kind === 'customer.end' && e.disconnectType) attributes.disconnectType = e.disconnectType.toLowerCase();
  const value: ConversationRecord = {
    recordId: `${e.conversationId}:${e.participantId}:${e.sessionId}:${kind}`,
    conversationId: e.conversationId,
    customerId,
    channel,
    occurredAt: e.eventTime,
    kind,
    participants: [{ participantId: e.participantId, purpose: 'customer', name: null, address: e.ani ?? null, userId: null }],
    ani: e.ani ?? null,
    dnis: e.dnis ?? null,
    attributes,
    transcript: null,
  };
  return { kind: 'conversation', key: customerId ?? e.conversationId, value };
}

/** The ComplianceConsent field set: field name (without Genesys' type suffix) → purpose. */
export const CONSENT_FIELD_PURPOSES: Record<string, Purpose> = {
  consent_marketing: 'MARKETING',
  consent_analytics: 'ANALYTICS',
  consent_third_party: 'THIRD_PARTY',
};
export const CONSENT_TIMESTAMP_FIELD = 'last_consent_timestamp';
export const CONSENT_SOURCE_FIELD = 'consent_source';

/** Genesys suffixes custom-field keys with their core type (`consent_marketing_checkbox`); accept both forms. */
const TYPE_SUFFIX = /_(checkbox|boolean|datetime|date|text|longtext|enum|number|integer|identifier|tag|url)$/;
export function baseFieldName(key: string): string {
  return key.replace(TYPE_SUFFIX, '');
}

const SOURCES: Record<string, ConsentSource> = { web: 'WEB', phone: 'PHONE', ivr: 'IVR', agent: 'AGENT', api: 'API', import: 'IMPORT' };
export function consentSourceOf(text: unknown): ConsentSource {
  return typeof text === 'string' ? (SOURCES[text.trim().toLowerCase()] ?? 'GENESYS') : 'GENESYS';
}

// Loose: the identity fields (e-mails, phones, external ids) are read by identitiesOfContact, leniently.
const ContactEvent = z.looseObject({
  id: z.string().min(1),
  modifyDate: z.string().nullish(),
  customFields: z.record(z.string(), z.unknown()).nullish(),
});

/**
 * An external contact (its change event, or the REST contact) → the ConsentEvent its ComplianceConsent fields
 * state, with the contact's identifiers for the identity graph. Capture time is last_consent_timestamp (the
 * contact's modifyDate when absent), so replaying the same contact yields the same event id and the consent table
 * applies it once. A contact without consent fields states no consent (not an opt-out): its identifiers only.
 */
export function consentEventOfContact(raw: unknown): Mapped {
  const parsed = ContactEvent.safeParse(raw);
  if (!parsed.success) return { kind: 'invalid', reason: `external contact: ${issues(parsed.error)}` };
  const c = parsed.data;
  const fields = new Map(Object.entries(c.customFields ?? {}).map(([k, v]) => [baseFieldName(k), v]));
  const purposes: PurposeConsent[] = [];
  for (const [field, purpose] of Object.entries(CONSENT_FIELD_PURPOSES)) {
    const v = fields.get(field);
    if (v === undefined || v === null) continue;
    if (typeof v !== 'boolean') return { kind: 'invalid', reason: `custom field ${field} of contact ${c.id} is ${typeof v}, expected boolean` };
    purposes.push({ purpose, granted: v, channel: null });
  }
  const contact = identitiesOfContact(c);
  if (purposes.length === 0) return { kind: 'contact', key: c.id, value: contact };
  const stamp = fields.get(CONSENT_TIMESTAMP_FIELD) ?? c.modifyDate;
  const capturedAt = typeof stamp === 'string' ? Date.parse(stamp) : Number.NaN;
  if (!Number.isFinite(capturedAt)) return { kind: 'invalid', reason: `contact ${c.id}: ${CONSENT_TIMESTAMP_FIELD} is not a date-time and there is no modifyDate` };
  const flags = purposes.map((p) => `${p.purpose[0]}${p.granted ? 1 : 0}`).join('');
  const value: ConsentEvent = {
    eventId: `genesys-contact:${c.id}:${capturedAt}:${flags}`,
    customerId: c.id,
    capturedAt,
    source: consentSourceOf(fields.get(CONSENT_SOURCE_FIELD)),
    purposes,
  };
  return { kind: 'consent', key: c.id, value, contact };
}

const AuditEvent = z.object({
  id: z.string().min(1),
  eventTime: z.string(),
  action: z.string(),
  entityType: z.string(),
  entity: z.object({ id: z.string().min(1), name: z.string().nullish() }),
  userId: z.string().nullish(),
  clientId: z.object({ id: z.string() }).nullish(),
  propertyChanges: z.array(z.object({
    property: z.string(),
    oldValues: z.array(z.unknown()).nullish(),
    newValues: z.array(z.unknown()).nullish(),
  })).nullish(),
});

const AUDITED: Record<string, IntegrationEntityType> = { OAuthClient: 'OAUTH_CLIENT', Integration: 'INTEGRATION' };
const ACTIONS: Record<string, IntegrationAction> = { create: 'CREATE', update: 'UPDATE', delete: 'DELETE' };

/** An audit event about an OAuth client or integration → an IntegrationChange (definition filled in by the connector). */
export function integrationChangeOfAudit(raw: unknown): Mapped {
  const parsed = AuditEvent.safeParse(raw);
  if (!parsed.success) return { kind: 'invalid', reason: `audit event: ${issues(parsed.error)}` };
  const a = parsed.data;
  const entityType = AUDITED[a.entityType];
  if (!entityType) return { kind: 'ignored', reason: `audit of ${a.entityType}` };
  const occurredAt = Date.parse(a.eventTime);
  if (!Number.isFinite(occurredAt)) return { kind: 'invalid', reason: `audit event ${a.id}: eventTime is not a date-time` };
  const value: IntegrationChange = {
    changeId: `audit:${a.id}`,
    integrationId: a.entity.id,
    entityType,
    action: ACTIONS[a.action.toLowerCase()] ?? 'UPDATE',
    detectedBy: 'AUDIT',
    name: a.entity.name ?? null,
    occurredAt,
    changedBy: a.userId || a.clientId?.id || null,
    propertyChanges: (a.propertyChanges ?? []).map((p) => ({
      property: p.property,
      oldValues: (p.oldValues ?? []).map(String),
      newValues: (p.newValues ?? []).map(String),
    })),
    definition: null,
    definitionHash: null,
  };
  return { kind: 'integration', key: a.entity.id, value };
}

const DETAIL = /^v2\.detail\.events\.conversation\.[^.]+\.(customer\.start|customer\.end)$/;
const CONTACT = /^v2\.externalcontacts\.contacts\.[^.]+$/;
const AUDIT = /^v2\.audits\.entitytype\.[^.]+\.entityid\.[^.]+$/;

/**
 * One notification (`topicName` + `eventBody`, as on the WebSocket or in an EventBridge `detail`) → what it means
 * for the contract. Channel metadata and system topics are the connector's business, not data: ignored here.
 */
export function mapNotification(topicName: string, eventBody: unknown): Mapped {
  const detail = DETAIL.exec(topicName);
  if (detail) {
    const parsed = CustomerEvent.safeParse(eventBody);
    if (!parsed.success) return { kind: 'invalid', reason: `${topicName}: ${issues(parsed.error)}` };
    return conversationRecordOf(detail[1] as CustomerEventKind, parsed.data);
  }
  if (CONTACT.test(topicName)) return consentEventOfContact(eventBody);
  if (AUDIT.test(topicName)) return integrationChangeOfAudit(eventBody);
  return { kind: 'ignored', reason: `topic ${topicName} carries no contract data` };
}

/** A notification message as text → its parts; anything else is invalid input for the dlq. */
export function parseNotification(text: string): { ok: true; topicName: string; eventBody: unknown } | { ok: false; reason: string } {
  let msg: unknown;
  try {
    msg = JSON.parse(text);
  } catch {
    return { ok: false, reason: 'not JSON' };
  }
  const m = msg as { topicName?: unknown; eventBody?: unknown };
  if (typeof m !== 'object' || m === null || typeof m.topicName !== 'string') return { ok: false, reason: 'no topicName' };
  return { ok: true, topicName: m.topicName, eventBody: m.eventBody };
}

const Envelope = z.object({
  'detail-type': z.string(),
  source: z.string(),
  detail: z.object({ topicName: z.string(), eventBody: z.unknown() }),
});

/** An EventBridge envelope → the notification inside it (`detail` is the WebSocket message plus a timestamp). */
export function unwrapEventBridge(raw: unknown): { ok: true; topicName: string; eventBody: unknown } | { ok: false; reason: string } {
  const parsed = Envelope.safeParse(raw);
  if (!parsed.success) return { ok: false, reason: `EventBridge envelope: ${issues(parsed.error)}` };
  return { ok: true, topicName: parsed.data.detail.topicName, eventBody: parsed.data.detail.eventBody };
}

export type Writeback =
  | { kind: 'skip'; reason: string }
  | { kind: 'update'; flags: Record<string, boolean>; capturedAt: number; sourceText: string };

/**
 * What a consent event means for the contact's ComplianceConsent fields in Genesys. Events that came from those
 * fields are not written back (that would loop); channel-specific statements have no field to go to; an event
 * older than the contact's last_consent_timestamp does not overwrite newer consent.
 */
export function consentWritebackOf(e: ConsentEvent, current: Record<string, unknown>): Writeback {
  if (e.eventId.startsWith('genesys-contact:')) return { kind: 'skip', reason: 'came from the Genesys contact' };
  const purposeLevel = e.purposes.filter((p) => p.channel === null);
  if (purposeLevel.length === 0) return { kind: 'skip', reason: 'only channel-specific statements, which the ComplianceConsent fields cannot hold' };
  const fields = new Map(Object.entries(current).map(([k, v]) => [baseFieldName(k), v]));
  const held = Date.parse(String(fields.get(CONSENT_TIMESTAMP_FIELD) ?? ''));
  if (Number.isFinite(held) && held > e.capturedAt) return { kind: 'skip', reason: 'the contact holds newer consent' };
  const flags: Record<string, boolean> = {};
  for (const [field, purpose] of Object.entries(CONSENT_FIELD_PURPOSES)) {
    const stated = purposeLevel.find((p) => p.purpose === purpose);
    if (stated) flags[field] = stated.granted;
  }
  const sourceText = e.source.charAt(0) + e.source.slice(1).toLowerCase();
  return { kind: 'update', flags, capturedAt: e.capturedAt, sourceText };
}
