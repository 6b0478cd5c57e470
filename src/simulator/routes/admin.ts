import { publicOAuthClient } from '../admin.ts';
import { notFound } from '../errors.ts';
import type { Org } from '../org.ts';
import { pageListing, pageParams } from '../paging.ts';
import { json, reply, route, type Route } from '../router.ts';
import type { Integration } from '../types.ts';

/** Without `expand=config.current` an integration carries only a reference to its current configuration. */
function integrationView(i: Integration, expand: string | null): unknown {
  if (expand?.split(',').includes('config.current')) return i;
  const { id, name, version, selfUri } = i.config.current;
  return { ...i, config: { current: { id, name, version, selfUri } } };
}

/** Integrations and OAuth clients (read-only over REST; the simulator API changes them). */
export function adminRoutes(org: Org): Route[] {
  const clients = () => [...org.admin.oauthClients.values()].map(publicOAuthClient);
  return [
    route('GET', '/api/v2/integrations', (r) => {
      const page = pageParams(r.query, { pageSize: 25, max: 100 });
      if (!page.ok) return reply(page);
      const all = [...org.admin.integrations.values()].map((i) => integrationView(i, r.query.get('expand')));
      const expand = r.query.get('expand');
      return json(pageListing(all, page.value.pageSize, page.value.pageNumber, '/api/v2/integrations', expand ? { expand } : {}));
    }),
    route('GET', '/api/v2/integrations/:integrationId', (r) => {
      const i = org.admin.integrations.get(r.params.integrationId!);
      return i ? json(integrationView(i, r.query.get('expand'))) : { problem: notFound(`Integration ${r.params.integrationId} not found`) };
    }),
    route('GET', '/api/v2/integrations/:integrationId/config/current', (r) => {
      const i = org.admin.integrations.get(r.params.integrationId!);
      return i ? json(i.config.current) : { problem: notFound(`Integration ${r.params.integrationId} not found`) };
    }),
    route('GET', '/api/v2/oauth/clients', () => json({ entities: clients(), total: org.admin.oauthClients.size, selfUri: '/api/v2/oauth/clients' })),
    route('GET', '/api/v2/oauth/clients/:clientId', (r) => {
      const c = org.admin.oauthClients.get(r.params.clientId!);
      return c ? json(publicOAuthClient(c)) : { problem: notFound(`OAuth client ${r.params.clientId} not found`) };
    }),
  ];
}
