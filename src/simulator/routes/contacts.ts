import { notFound } from '../errors.ts';
import type { Org } from '../org.ts';
import { json, reply, route, type Route } from '../router.ts';

const BASE = '/api/v2/externalcontacts/contacts';

/** External contacts and their schemas (`expand` is accepted and ignored). */
export function contactRoutes(org: Org): Route[] {
  return [
    route('GET', `${BASE}/schemas`, () => json({ total: org.schemas.size, entities: [...org.schemas.values()], selfUri: `${BASE}/schemas` })),
    route('GET', `${BASE}/schemas/:schemaId`, (r) => {
      const s = org.schemas.get(r.params.schemaId!);
      return s ? json(s) : { problem: notFound(`Schema ${r.params.schemaId} not found`) };
    }),
    route('GET', BASE, (r) => reply(org.contacts.list(r.query))),
    route('POST', BASE, (r) => reply(org.contacts.create(r.body))),
    route('GET', `${BASE}/:contactId`, (r) => {
      const c = org.contacts.get(r.params.contactId!);
      return c ? json(c) : { problem: notFound(`External contact ${r.params.contactId} not found`) };
    }),
    route('PUT', `${BASE}/:contactId`, (r) => reply(org.contacts.replace(r.params.contactId!, r.body))),
  ];
}
