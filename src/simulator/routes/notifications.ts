import type { Grant } from '../auth.ts';
import type { Channel, ChannelRegistry } from '../channels.ts';
import { fail, notFound, ok, type Outcome } from '../errors.ts';
import type { Notifications } from '../notifications.ts';
import { availableTopics } from '../topics.ts';
import { json, noContent, reply, route, type Route } from '../router.ts';

const CHANNELS = '/api/v2/notifications/channels';

/** Notification channels and subscriptions; a channel is visible only to the OAuth client that created it. */
export function notificationRoutes(n: Notifications, registry: ChannelRegistry, eventBridgeOnly: string[]): Route[] {
  const own = (id: string, g: Grant): Outcome<Channel> => {
    const c = registry.get(id);
    return c && c.clientId === g.clientId ? ok(c) : fail(notFound(`Channel ${id} not found`));
  };
  const entities = <T>(entities: T[]) => ({ entities });
  return [
    route('GET', '/api/v2/notifications/availabletopics', () => json(entities(availableTopics(eventBridgeOnly)))),
    route('POST', CHANNELS, (r) => json(n.createChannel(r.grant.clientId, r.grant.tokenId))),
    route('GET', CHANNELS, (r) => json(entities(registry.list(r.grant.clientId, r.grant.tokenId, r.query.get('includechannels')).map((c) => n.view(c))))),
    route('HEAD', `${CHANNELS}/:id`, (r) => reply(own(r.params.id!, r.grant), () => undefined)),
    route('GET', `${CHANNELS}/:id/subscriptions`, (r) => {
      const c = own(r.params.id!, r.grant);
      return c.ok ? reply(registry.topics(c.value.id), entities) : reply(c);
    }),
    route('PUT', `${CHANNELS}/:id/subscriptions`, (r) => {
      const c = own(r.params.id!, r.grant);
      return c.ok ? reply(n.subscribe(c.value.id, r.body, 'put'), entities) : reply(c);
    }),
    route('POST', `${CHANNELS}/:id/subscriptions`, (r) => {
      const c = own(r.params.id!, r.grant);
      return c.ok ? reply(n.subscribe(c.value.id, r.body, 'post'), entities) : reply(c);
    }),
    route('DELETE', `${CHANNELS}/:id/subscriptions`, (r) => {
      const c = own(r.params.id!, r.grant);
      if (!c.ok) return reply(c);
      registry.unsubscribeAll(c.value.id);
      return noContent();
    }),
  ];
}
