import type { GenesysClient } from '../adapters/genesys.ts';
import type { Logger } from '../adapters/logger.ts';
import { customerRecordsOf } from '../domain/analyticsConversations.ts';
import { consentEventOfContact } from '../domain/genesysEvents.ts';
import type { SourceSink } from './sink.ts';

const SOURCE = 'genesys-backfill';
const WEEK_MS = 7 * 24 * 3_600_000;
const PAGE = 100;
const CONTACT_LISTING_LIMIT = 1000; // Genesys refuses pageNumber * pageSize > 1000

const iso = (ms: number) => new Date(ms).toISOString();

/**
 * Rebuilds the notifications of [from, to) over REST, consent before conversations:
 * - consent from external contacts modified in the gap, newest first, as far as the listing's 1000-row limit
 *   allows (a longer gap is logged).
 * - conversations from the analytics details query: customer.start/end events whose time falls in the gap, looked
 *   up among conversations that started up to `lookbackMs` before it (an end in the gap may belong to an older
 *   conversation). The query interval is capped at the 7 days Genesys accepts.
 * Returns the number of records written (those the socket did deliver are recognised by id and skipped).
 */
export async function backfill(o: { genesys: GenesysClient; sink: SourceSink; from: number; to: number; lookbackMs: number; topics: string[]; logger: Logger }): Promise<number> {
  let written = 0;
  const wants = (re: RegExp) => o.topics.some((t) => re.test(t));
  // Consent first: the conversations backfilled next are then decided against the consent of the same gap.
  if (wants(/^v2\.externalcontacts\.contacts\./)) {
    let reachedStart = false;
    for (let page = 1; page * PAGE <= CONTACT_LISTING_LIMIT && !reachedStart; page++) {
      const res = await o.genesys.call<{ entities?: { modifyDate?: string }[] }>('getExternalcontactsContacts', (a) =>
        a.externalContacts.getExternalcontactsContacts!({ pageSize: PAGE, pageNumber: page, sortOrder: 'modifyDate:desc' }));
      const contacts = res.entities ?? [];
      const inGap = contacts.filter((c) => Date.parse(c.modifyDate ?? '') >= o.from);
      reachedStart = contacts.length < PAGE || inGap.length < contacts.length;
      const items = inGap.map((c) => ({ mapped: consentEventOfContact(c), origin: { source: SOURCE, what: 'externalcontacts.contact', raw: Buffer.from(JSON.stringify(c)) } }));
      written += (await o.sink.write(items)).written;
      if (!reachedStart && page * PAGE >= CONTACT_LISTING_LIMIT) {
        o.logger.warn({ from: iso(o.from) }, 'more than 1000 contacts changed during the gap: the listing limit stops the backfill here');
      }
    }
  }
  if (wants(/^v2\.detail\.events\.conversation\./)) {
    const start = Math.max(o.from - o.lookbackMs, o.to - WEEK_MS);
    for (let page = 1; ; page++) {
      const body = { interval: `${iso(start)}/${iso(o.to)}`, order: 'asc', orderBy: 'conversationStart', paging: { pageSize: PAGE, pageNumber: page } };
      const res = await o.genesys.call<{ conversations?: unknown[]; totalHits?: number }>('postAnalyticsConversationsDetailsQuery', (a) => a.analytics.postAnalyticsConversationsDetailsQuery!(body));
      const convs = res.conversations ?? [];
      const items = convs.flatMap((c) => customerRecordsOf(c, o.from, o.to).map((mapped) => ({ mapped, origin: { source: SOURCE, what: 'analytics.conversation', raw: Buffer.from(JSON.stringify(c)) } })));
      written += (await o.sink.write(items)).written;
      if (convs.length < PAGE) break;
    }
  }
  o.logger.info({ from: iso(o.from), to: iso(o.to), written }, 'backfilled a notification gap');
  return written;
}
