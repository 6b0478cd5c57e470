import { z } from 'zod';
import { badRequest, fail, invalidBody, notFound } from '../errors.ts';
import { iso } from '../ids.ts';
import type { Job } from '../jobs.ts';
import type { AuditQueryMeta, Org } from '../org.ts';
import { json, reply, route, type Route } from '../router.ts';
import type { AuditLogMessage } from '../types.ts';

const AuditQueryRequest = z.object({
  interval: z.string().refine((s) => s.split('/').length === 2 && s.split('/').every((p) => !Number.isNaN(Date.parse(p))), 'expected ISO-8601 start/end'),
  serviceName: z.string(),
  filters: z.array(z.object({ property: z.enum(['EntityType', 'EntityId', 'Action', 'UserId']), value: z.string() })).default([]),
  sort: z.array(z.object({ name: z.string(), sortOrder: z.string() })).default([]),
});

const BASE = '/api/v2/audits/query';

/** Audit queries: Running until the delay passes, then Succeeded with a frozen, cursor-paged result set. */
export function auditRoutes(org: Org): Route[] {
  const status = (j: Job<AuditLogMessage, AuditQueryMeta>) => ({ id: j.id, state: j.results ? 'Succeeded' : 'Running', startDate: iso(j.submitted), ...j.meta });
  const missing = (id: string) => ({ problem: notFound(`Audit query ${id} not found`) });
  return [
    route('POST', BASE, (r) => {
      const q = AuditQueryRequest.safeParse(r.body);
      if (!q.success) return reply(fail(invalidBody(q.error)));
      return json(status(org.auditQueries.submit(q.data, () => org.auditsMatching(q.data))));
    }),
    route('GET', `${BASE}/:id`, (r) => {
      const j = org.auditQueries.get(r.params.id!);
      return j ? json(status(j)) : missing(r.params.id!);
    }),
    route('GET', `${BASE}/:id/results`, (r) => {
      const pageSize = Number(r.query.get('pageSize') ?? 25);
      if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > 500) return { problem: badRequest('pageSize must be an integer from 1 to 500', 'invalid.value') };
      const page = org.auditQueries.page(r.params.id!, r.query.get('cursor'), pageSize);
      return reply(page, (p) => ({ id: r.params.id, pageSize, ...(p.cursor ? { cursor: p.cursor } : {}), entities: p.items }));
    }),
  ];
}
