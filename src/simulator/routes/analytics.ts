import { select, parseSelection } from '../analyticsQuery.ts';
import { badRequest, notFound } from '../errors.ts';
import { iso } from '../ids.ts';
import type { Job } from '../jobs.ts';
import type { Org } from '../org.ts';
import { json, noContent, reply, route, type Route } from '../router.ts';
import type { AnalyticsConversation, Clock } from '../types.ts';

const BASE = '/api/v2/analytics/conversations/details';

/**
 * Conversation detail queries. The synchronous query pages through live data (so pages can shift while data
 * arrives, as in Genesys; an empty page has no `conversations` field). A job freezes its result set when it is
 * fulfilled, so cursors saved from it stay valid.
 */
export function analyticsRoutes(org: Org, clock: Clock, defaultJobPageSize: number): Route[] {
  const status = (j: Job<AnalyticsConversation, unknown>) => ({
    state: j.results ? 'FULFILLED' : 'QUEUED',
    expirationDate: iso(j.expiresAt),
    submissionDate: iso(j.submitted),
    ...(j.completed !== undefined ? { completionDate: iso(j.completed) } : {}),
  });
  return [
    route('POST', `${BASE}/query`, (r) => {
      const q = parseSelection(r.body, 'sync');
      if (!q.ok) return reply(q);
      const hits = select(org.conversations.all(), q.value.selection);
      const pageSize = q.value.body.paging?.pageSize ?? 25;
      const pageNumber = q.value.body.paging?.pageNumber ?? 1;
      const page = hits.slice((pageNumber - 1) * pageSize, pageNumber * pageSize);
      return json({ ...(page.length ? { conversations: page } : {}), totalHits: hits.length });
    }),
    route('POST', `${BASE}/jobs`, (r) => {
      const q = parseSelection(r.body, 'async');
      if (!q.ok) return reply(q);
      const limit = q.value.body.limit;
      const job = org.analyticsJobs.submit({}, () => select(org.conversations.all(), q.value.selection).slice(0, limit));
      return json({ jobId: job.id }, 202);
    }),
    route('GET', `${BASE}/jobs/availability`, () => json({ dataAvailabilityDate: iso(clock()) })),
    route('GET', `${BASE}/jobs/:jobId`, (r) => {
      const j = org.analyticsJobs.get(r.params.jobId!);
      return j ? json(status(j)) : { problem: notFound(`Job ${r.params.jobId} not found`) };
    }),
    route('DELETE', `${BASE}/jobs/:jobId`, (r) => (org.analyticsJobs.delete(r.params.jobId!) ? noContent() : { problem: notFound(`Job ${r.params.jobId} not found`) })),
    route('GET', `${BASE}/jobs/:jobId/results`, (r) => {
      const pageSize = Number(r.query.get('pageSize') ?? defaultJobPageSize);
      if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > 1000) return { problem: badRequest('pageSize must be an integer from 1 to 1000', 'invalid.value') };
      const page = org.analyticsJobs.page(r.params.jobId!, r.query.get('cursor'), pageSize);
      return reply(page, (p) => ({ conversations: p.items, ...(p.cursor ? { cursor: p.cursor } : {}), dataAvailabilityDate: iso(p.job.completed!) }));
    }),
  ];
}
