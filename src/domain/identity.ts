import type { ConsentEvent, ConversationRecord, IdentifierKind, LinkStrength, PurposeConsent, Resolution } from './types.ts';

/**
 * Identity resolution: which customer (Genesys external contact) an identifier belongs to, and how sure that is.
 *
 * - The external contact id is the customer id: CERTAIN.
 * - An e-mail address or an external id (another system's id for the person) held by exactly one contact: STRONG.
 * - A phone number held by exactly one contact: WEAK (numbers are shared by households and desks, and recycled).
 * - An identifier held by more than one contact resolves to nobody; a withheld or anonymous caller id never resolves.
 *
 * Use is asymmetric, failing safe: a withdrawal applies through any link, a grant and a forward need a STRONG or
 * CERTAIN one. Pure: the index is data held in memory; the adapters feed it from the identity.contacts topic.
 */

/** An identifier in its normal form, as the index keys it: `email:ada@example.com`, `phone:+447700900001` … */
export type IdentifierKey = string;

/** A contact's identifiers as the identity.contacts topic holds them (keyed by contact id; a deleted contact holds none). */
export interface ContactIdentity {
  contactId: string;
  identifiers: IdentifierKey[];
  deleted: boolean;
  modifiedAt: number;
}

const KIND_OF_PREFIX: Record<string, IdentifierKind> = { contact: 'CONTACT_ID', email: 'EMAIL', phone: 'PHONE', external: 'EXTERNAL_ID' };

export function kindOf(key: IdentifierKey): IdentifierKind {
  return KIND_OF_PREFIX[key.slice(0, key.indexOf(':'))] ?? 'EXTERNAL_ID';
}

const EMAIL = /^[^\s@<>(),;:"]+@[^\s@<>(),;:"]+\.[^\s@<>(),;:"]+$/;
/** Caller-id markers of a number the caller withheld: such an ANI is nobody's. */
const WITHHELD = /anonymous|withheld|private|restricted|unavailable|unknown|blocked/i;
const E164 = /^\+[1-9]\d{6,14}$/;

export type Normalised = { ok: true; key: IdentifierKey } | { ok: false; reason: string };

/** An e-mail address in normal form: trimmed, `mailto:` dropped, lower case (the index compares addresses whole). */
export function normaliseEmail(raw: string): Normalised {
  const s = raw.trim().replace(/^mailto:/i, '').toLowerCase();
  return EMAIL.test(s) ? { ok: true, key: `email:${s}` } : { ok: false, reason: 'not an e-mail address' };
}

/**
 * A phone number in E.164: `tel:`/`sip:` and separators dropped, a leading 00 read as +. A number without a country
 * code is not guessed at (it would link people of different countries); a withheld caller id is refused.
 */
export function normalisePhone(raw: string): Normalised {
  let s = raw.trim();
  if (WITHHELD.test(s)) return { ok: false, reason: 'withheld or anonymous caller id' };
  s = s.replace(/^(tel|sip|sips):/i, '').replace(/@.*$/, '').replace(/;.*$/, '');
  s = s.replace(/[\s\-().\/]/g, '');
  if (s.startsWith('00')) s = '+' + s.slice(2);
  return E164.test(s) ? { ok: true, key: `phone:${s}` } : { ok: false, reason: 'not a phone number in E.164 (+ and country code)' };
}

/** Another system's id of the person (`{source}:{value}` or a bare value), exactly as given. */
export function externalIdKey(value: string, source?: string | null): IdentifierKey {
  return `external:${source ? `${source}:` : ''}${value.trim()}`;
}

/** Whatever an address field holds (e-mail, phone, caller id) → its identifier, if it is one. */
export function identifierOfAddress(raw: string | null | undefined): IdentifierKey | null {
  if (!raw) return null;
  const e = raw.includes('@') && !/^sips?:/i.test(raw.trim()) ? normaliseEmail(raw) : normalisePhone(raw);
  return e.ok ? e.key : null;
}

/** The identifiers a conversation record carries for its customer: the customer participants' addresses and the ANI. */
export function identifiersOfRecord(r: Pick<ConversationRecord, 'participants' | 'ani'>): IdentifierKey[] {
  const keys = new Set<IdentifierKey>();
  for (const p of r.participants) {
    if (p.purpose !== 'customer' && p.purpose !== 'external') continue;
    const k = identifierOfAddress(p.address);
    if (k) keys.add(k);
  }
  const ani = identifierOfAddress(r.ani);
  if (ani) keys.add(ani);
  return [...keys];
}

/** A consent statement kept (consent.pending, keyed by event id) until its identifier resolves. */
export interface PendingConsent {
  identifier: IdentifierKey;
  statement: Omit<ConsentEvent, 'customerId' | 'resolvedBy'>;
  receivedAt: number;
  reason: string;
}

/** What one identifier resolves to in the index. */
export type Lookup =
  | { kind: 'one'; customerId: string; link: LinkStrength; identifier: IdentifierKind }
  | { kind: 'many'; contacts: number; identifier: IdentifierKind }
  | { kind: 'none'; identifier: IdentifierKind };

/** How strongly an identifier of each kind links when exactly one contact holds it. */
export const STRENGTH: Record<IdentifierKind, LinkStrength> = { CONTACT_ID: 'CERTAIN', EMAIL: 'STRONG', EXTERNAL_ID: 'STRONG', PHONE: 'WEAK' };

/** An identifier kind in words, as reasons and the evidence report spell it: `email`, `phone`, `external id`. */
export const identifierNoun = (k: IdentifierKind): string => ({ CONTACT_ID: 'contact id', EMAIL: 'email', PHONE: 'phone', EXTERNAL_ID: 'external id' })[k];
const RANK: Record<LinkStrength, number> = { WEAK: 1, STRONG: 2, CERTAIN: 3 };

/**
 * identifier → contacts holding it, and contact → its identifiers (to unlink what a contact no longer holds). One
 * owner is kept as a string, more as an array: at a million contacts the index stays a few hundred bytes a contact.
 */
export class IdentityIndex {
  private readonly byContact = new Map<string, IdentifierKey[]>();
  private readonly byIdentifier = new Map<IdentifierKey, string | string[]>();

  get contacts(): number {
    return this.byContact.size;
  }

  has(contactId: string): boolean {
    return this.byContact.has(contactId);
  }

  /** Applies a contact's current identifiers; returns the identifiers whose owners changed (added or removed). */
  apply(c: ContactIdentity): IdentifierKey[] {
    const before = this.byContact.get(c.contactId) ?? [];
    const after = c.deleted ? [] : [...new Set(c.identifiers)];
    const changed: IdentifierKey[] = [];
    for (const k of before) if (!after.includes(k)) { this.unlink(k, c.contactId); changed.push(k); }
    for (const k of after) if (!before.includes(k)) { this.link(k, c.contactId); changed.push(k); }
    if (c.deleted) this.byContact.delete(c.contactId);
    else this.byContact.set(c.contactId, after);
    return changed;
  }

  private link(k: IdentifierKey, contactId: string): void {
    const owners = this.byIdentifier.get(k);
    if (owners === undefined) this.byIdentifier.set(k, contactId);
    else if (typeof owners === 'string') this.byIdentifier.set(k, [owners, contactId]);
    else owners.push(contactId);
  }

  private unlink(k: IdentifierKey, contactId: string): void {
    const owners = this.byIdentifier.get(k);
    if (owners === undefined || owners === contactId) this.byIdentifier.delete(k);
    else if (typeof owners !== 'string') {
      const rest = owners.filter((o) => o !== contactId);
      this.byIdentifier.set(k, rest.length === 1 ? rest[0]! : rest);
    }
  }

  lookup(key: IdentifierKey): Lookup {
    const identifier = kindOf(key);
    if (identifier === 'CONTACT_ID') return { kind: 'one', customerId: key.slice('contact:'.length), link: 'CERTAIN', identifier };
    const owners = this.byIdentifier.get(key);
    if (owners === undefined) return { kind: 'none', identifier };
    if (typeof owners === 'string') return { kind: 'one', customerId: owners, link: STRENGTH[identifier], identifier };
    return { kind: 'many', contacts: owners.length, identifier };
  }
}

export type RecordSubject =
  | { kind: 'resolved'; customerId: string; resolution: Resolution | null }
  | { kind: 'conflict'; customerId: string | null; resolution: Resolution }
  | { kind: 'none' };

/**
 * The customer of a conversation record. The contact id Genesys linked is certain and stands, unless an e-mail or
 * external id (strong) of the record belongs to another contact: then the record is a CONFLICT. Without a contact
 * id, the strong links decide if there are any, else the weak ones; links that disagree are a CONFLICT. Identifiers
 * held by several contacts or by none say nothing. `resolution` is null when the record's own contact id stood.
 */
export function resolveRecord(index: IdentityIndex, r: Pick<ConversationRecord, 'customerId' | 'participants' | 'ani'>): RecordSubject {
  const found = identifiersOfRecord(r).map((k) => index.lookup(k)).filter((l): l is Extract<Lookup, { kind: 'one' }> => l.kind === 'one');
  if (r.customerId) {
    const other = found.find((l) => l.link === 'STRONG' && l.customerId !== r.customerId);
    return other
      ? { kind: 'conflict', customerId: r.customerId, resolution: { identifier: other.identifier, link: 'CONFLICT' } }
      : { kind: 'resolved', customerId: r.customerId, resolution: null };
  }
  for (const level of ['STRONG', 'WEAK'] as const) {
    const at = found.filter((l) => l.link === level);
    if (!at.length) continue;
    const customers = new Set(at.map((l) => l.customerId));
    if (customers.size > 1) return { kind: 'conflict', customerId: null, resolution: { identifier: at[0]!.identifier, link: 'CONFLICT' } };
    return { kind: 'resolved', customerId: at[0]!.customerId, resolution: { identifier: at[0]!.identifier, link: level } };
  }
  return { kind: 'none' };
}

/**
 * A record as it should be written: one that names no customer gets the one its identifiers resolve to (and is keyed
 * by it, so it lands on that customer's partition); one whose identifiers point at different customers is marked
 * CONFLICT (the enforcement blocks it); anything else is unchanged.
 */
export function withResolvedSubject<T extends ConversationRecord>(index: IdentityIndex, record: T, key: string): { key: string; value: T } {
  const s = resolveRecord(index, record);
  if (s.kind === 'none' || (s.kind === 'resolved' && s.resolution === null)) return { key, value: record };
  const customerId = s.customerId ?? record.customerId;
  return { key: customerId ?? key, value: { ...record, customerId, resolvedBy: s.resolution } };
}

export type ConsentResolution =
  /** Apply `event` (a customer's consent event); `droppedGrants` were stated through a weak link and are not applied. */
  | { kind: 'apply'; event: ConsentEvent; resolution: Resolution; droppedGrants: PurposeConsent[] }
  /** Nothing to apply: every statement was a grant through a weak link. */
  | { kind: 'refused'; resolution: Resolution; reason: string }
  /** The identifier belongs to no contact, or to several: kept until it resolves. */
  | { kind: 'pending'; reason: string };

/**
 * A consent statement given by identifier → what applies to whom. A withdrawal goes through any link, weak included;
 * a grant needs a strong or certain one (a grant by phone could open another person's data to a sink).
 */
export function resolveConsent(index: IdentityIndex, identifier: IdentifierKey, e: Omit<ConsentEvent, 'customerId'>): ConsentResolution {
  const l = index.lookup(identifier);
  if (l.kind === 'none') return { kind: 'pending', reason: `no contact holds this ${identifierNoun(l.identifier)} yet` };
  if (l.kind === 'many') return { kind: 'pending', reason: `${l.contacts} contacts hold this ${identifierNoun(l.identifier)}: it resolves to nobody` };
  const resolution: Resolution = { identifier: l.identifier, link: l.link };
  const weak = RANK[l.link] < RANK.STRONG;
  const droppedGrants = weak ? e.purposes.filter((p) => p.granted) : [];
  const purposes = weak ? e.purposes.filter((p) => !p.granted) : e.purposes;
  if (!purposes.length) return { kind: 'refused', resolution, reason: 'a grant needs a strong link (a contact id, an e-mail address or an external id); a phone number is weak' };
  return { kind: 'apply', event: { ...e, customerId: l.customerId, purposes }, resolution, droppedGrants };
}

const str = (v: unknown): string | null => (typeof v === 'string' && v.trim() ? v : null);
const field = (o: unknown, k: string): unknown => (o && typeof o === 'object' ? (o as Record<string, unknown>)[k] : undefined);

/**
 * A Genesys external contact (REST `ExternalContact` or the change event's body) → its identifiers in normal form:
 * work/personal/other e-mail, work/cell/home/other phone and the WhatsApp number (E.164, else the display form),
 * and external ids (`external:{source id}:{value}`). Fields of the wrong type are skipped, not trusted.
 */
export function identitiesOfContact(c: { id: string; modifyDate?: string | null } & Record<string, unknown>): ContactIdentity {
  const keys = new Set<IdentifierKey>();
  for (const f of ['workEmail', 'personalEmail', 'otherEmail']) {
    const e = str(c[f]);
    const n = e ? normaliseEmail(e) : null;
    if (n?.ok) keys.add(n.key);
  }
  for (const p of [c.workPhone, c.cellPhone, c.homePhone, c.otherPhone, field(c.whatsAppId, 'phoneNumber')]) {
    const raw = str(field(p, 'e164')) ?? str(field(p, 'display'));
    const n = raw ? normalisePhone(raw) : null;
    if (n?.ok) keys.add(n.key);
  }
  for (const x of Array.isArray(c.externalIds) ? c.externalIds : []) {
    const value = str(field(x, 'value'));
    const source = field(x, 'externalSource');
    if (value) keys.add(externalIdKey(value, str(field(source, 'id')) ?? str(field(source, 'name'))));
  }
  const modifiedAt = Date.parse(c.modifyDate ?? '');
  return { contactId: c.id, identifiers: [...keys].sort(), deleted: false, modifiedAt: Number.isFinite(modifiedAt) ? modifiedAt : 0 };
}
