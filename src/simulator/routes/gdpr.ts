import { badRequest, notFound } from '../errors.ts';
import { GDPR_SEARCH_TYPES } from '../gdpr.ts';
import type { Org } from '../org.ts';
import { pageListing, pageParams } from '../paging.ts';
import { json, reply, route, type Route } from '../router.ts';

/** GDPR requests and subject search (subjects are looked up among external contacts). */
export function gdprRoutes(org: Org): Route[] {
  return [
    route('POST', '/api/v2/gdpr/requests', (r) => reply(org.gdpr.submit(r.body, r.query.get('deleteConfirmed') === 'true'), (v) => v, 202)),
    route('GET', '/api/v2/gdpr/requests', (r) => {
      const page = pageParams(r.query, { pageSize: 25, max: 100 });
      return reply(page, (p) => pageListing(org.gdpr.all(), p.pageSize, p.pageNumber, '/api/v2/gdpr/requests'));
    }),
    route('GET', '/api/v2/gdpr/requests/:requestId', (r) => {
      const g = org.gdpr.get(r.params.requestId!);
      return g ? json(g) : { problem: notFound(`GDPR request ${r.params.requestId} not found`) };
    }),
    route('GET', '/api/v2/gdpr/subjects', (r) => {
      const searchType = r.query.get('searchType') ?? '';
      const searchValue = r.query.get('searchValue');
      if (!(GDPR_SEARCH_TYPES as readonly string[]).includes(searchType)) return { problem: badRequest(`searchType must be one of ${GDPR_SEARCH_TYPES.join(', ')}`, 'invalid.value') };
      if (!searchValue) return { problem: badRequest('searchValue is required', 'invalid.value') };
      const subjects = org.contacts.subjects(searchType, searchValue);
      return json(pageListing(subjects, Math.max(subjects.length, 1), 1, '/api/v2/gdpr/subjects', { searchType, searchValue }));
    }),
  ];
}
