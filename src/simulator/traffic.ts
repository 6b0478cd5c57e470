import { setImmediate as yieldToLoop, setTimeout as sleep } from 'node:timers/promises';
import { mulberry32, seededUuid } from './ids.ts';
import type { ConsentChange } from './org.ts';
import type { ExternalContact, MediaType, TrafficSummary } from './types.ts';

export interface TrafficOptions {
  /** Seed of this run; the same seed and counts give the same ids and sequence. */
  seed?: number;
  customers: number;
  conversations: number;
  consentChanges: number;
  /** Conversation starts/ends and consent changes per second; default as fast as possible (yielding to the event loop). */
  perSecond?: number;
  /** Existing contacts that conversations and consent changes may also use. */
  contactIds?: string[];
  signal?: AbortSignal;
}

/** The simulator operations traffic drives. */
export interface TrafficTarget {
  upsertContact(c: Partial<ExternalContact> & { id?: string }): unknown;
  setConsent(contactId: string, c: ConsentChange): unknown;
  startConversation(o: { id: string; customerId: string | null; mediaType: MediaType; ani: string; dnis: string }): unknown;
  endConversation(conversationId: string, o: { disconnectType: string }): unknown;
}

const FIRST = ['Ana', 'Bo', 'Chidi', 'Dana', 'Emil', 'Fatima', 'Goran', 'Hana', 'Ivo', 'Jun', 'Kemi', 'Lars'];
const LAST = ['Silva', 'Chen', 'Okafor', 'Levi', 'Novak', 'Zahra', 'Ilic', 'Sato', 'Berg', 'Park', 'Adeyemi', 'Holm'];
const MEDIA: MediaType[] = ['voice', 'voice', 'voice', 'chat', 'message', 'email', 'callback'];
const SOURCES = ['Web', 'Phone', 'IVR', 'Agent'];
const DISCONNECTS = ['endpoint', 'endpoint', 'peer', 'client'];
const NO_CONTACT_SHARE = 0.15;
/** Of the conversations without an external contact, those from a known contact's address Genesys did not link. */
const UNLINKED_KNOWN_SHARE = 0.5;
const EMAIL_MEDIA: ReadonlySet<MediaType> = new Set(['chat', 'message', 'email']);
const NO_CONSENT_SHARE = 0.2;

/**
 * Seeded contact-centre traffic: first `customers` contacts (about 80% with ComplianceConsent fields), then
 * conversation starts and ends interleaved with consent changes; about 15% of conversations have no external
 * contact: half of those come from a known contact's address Genesys did not link (a chat, message or e-mail from
 * the contact's e-mail address, a call from their phone), the rest from unknown numbers or a withheld caller id.
 * Every random draw comes from the seed, so a rerun with the same options repeats ids and order.
 */
export async function runTraffic(target: TrafficTarget, o: TrafficOptions): Promise<TrafficSummary> {
  const seed = o.seed ?? 1;
  const rand = mulberry32(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const summary: TrafficSummary = { seed, contactIds: [], contactIdsWithoutConsent: [], conversationIds: [], anonymousConversationIds: [], consentChangeContactIds: [] };
  const pool = [...(o.contactIds ?? [])];
  const phones = new Map<string, string>();
  const emails = new Map<string, string>();
  const consent = (): ConsentChange => ({ marketing: rand() < 0.5, analytics: rand() < 0.7, thirdParty: rand() < 0.2, source: pick(SOURCES) });

  for (let i = 0; i < o.customers; i++) {
    const id = seededUuid(rand);
    const [first, last] = [pick(FIRST), pick(LAST)];
    const phone = `+1555${String(Math.floor(rand() * 1e7)).padStart(7, '0')}`;
    const email = `${first}.${last}.${i}@example.com`.toLowerCase();
    target.upsertContact({ id, firstName: first, lastName: last, workEmail: email, cellPhone: { e164: phone } });
    emails.set(id, email);
    if (rand() < NO_CONSENT_SHARE) summary.contactIdsWithoutConsent.push(id);
    else target.setConsent(id, consent());
    phones.set(id, phone);
    pool.push(id);
    summary.contactIds.push(id);
    if (i % 100 === 99) await yieldToLoop();
  }

  const open: string[] = [];
  let starts = o.conversations;
  let changes = o.consentChanges;
  const began = performance.now();
  for (let step = 0; (starts > 0 || open.length > 0 || changes > 0) && !o.signal?.aborted; step++) {
    await pace(o.perSecond, began, step);
    const weights = [starts > 0 ? 2 : 0, open.length ? 1 + open.length / 2 : 0, changes > 0 ? 1 : 0];
    let r = rand() * (weights[0]! + weights[1]! + weights[2]!);
    if ((r -= weights[0]!) < 0) {
      starts--;
      const id = seededUuid(rand);
      const customerId = pool.length && rand() >= NO_CONTACT_SHARE ? pick(pool) : null;
      const mediaType = pick(MEDIA);
      const unlinked = !customerId && pool.length && rand() < UNLINKED_KNOWN_SHARE ? pick(pool) : null;
      const person = customerId ?? unlinked;
      const phone = (person && phones.get(person)) ?? `+1555${String(Math.floor(rand() * 1e7)).padStart(7, '0')}`;
      const voiceLike = mediaType === 'voice' || mediaType === 'callback';
      const withheld = !person && voiceLike && rand() < 0.25;
      const ani = unlinked && EMAIL_MEDIA.has(mediaType) ? emails.get(unlinked)! : withheld ? 'sip:anonymous@anonymous.invalid' : voiceLike ? `tel:${phone}` : phone;
      target.startConversation({ id, customerId, mediaType, ani, dnis: voiceLike ? 'tel:+18005550100' : '+18005550100' });
      open.push(id);
      summary.conversationIds.push(id);
      if (!customerId) summary.anonymousConversationIds.push(id);
    } else if ((r -= weights[1]!) < 0) {
      const [id] = open.splice(Math.floor(rand() * open.length), 1);
      target.endConversation(id!, { disconnectType: pick(DISCONNECTS) });
    } else {
      changes--;
      if (!pool.length) continue;
      const id = pick(pool);
      target.setConsent(id, consent());
      summary.consentChangeContactIds.push(id);
    }
  }
  return summary;
}

async function pace(perSecond: number | undefined, began: number, step: number): Promise<void> {
  if (!perSecond) {
    if (step % 50 === 49) await yieldToLoop();
    return;
  }
  const wait = began + (step * 1000) / perSecond - performance.now();
  if (wait > 0) await sleep(wait);
  else if (step % 50 === 49) await yieldToLoop();
}
