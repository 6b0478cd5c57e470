import { z } from 'zod';
import { fail, invalidBody, notFound } from '../errors.ts';
import { MEDIA_PATHS, restConversation } from '../conversations.ts';
import type { Org } from '../org.ts';
import { json, reply, route, type Route } from '../router.ts';

const Disconnect = z.object({ state: z.literal('disconnected') });

/** Live conversations; PATCHing `{"state":"disconnected"}` ends one as if an API client hung it up. */
export function conversationRoutes(org: Org): Route[] {
  return [
    route('GET', '/api/v2/conversations/:conversationId', (r) => {
      const f = org.conversations.get(r.params.conversationId!);
      return f ? json(restConversation(f)) : { problem: notFound(`Conversation ${r.params.conversationId} not found`) };
    }),
    // Full teardown of any media type (the SDK has no PATCH for chats); 202 with no body, as Genesys answers.
    route('POST', '/api/v2/conversations/:conversationId/disconnect', (r) => {
      const f = org.conversations.get(r.params.conversationId!);
      if (!f || f.end !== undefined) return { problem: notFound(`No live conversation ${r.params.conversationId}`) };
      org.endConversation(f.id, { disconnectType: 'system' });
      return { status: 202, body: undefined };
    }),
    route('PATCH', '/api/v2/conversations/:media/:conversationId', (r) => {
      const mediaType = MEDIA_PATHS[r.params.media!];
      const f = org.conversations.get(r.params.conversationId!);
      if (!mediaType || !f || f.mediaType !== mediaType) return { problem: notFound(`No ${r.params.media} conversation ${r.params.conversationId}`) };
      const body = Disconnect.safeParse(r.body);
      if (!body.success) return reply(fail(invalidBody(body.error)));
      return reply(org.endConversation(f.id, { disconnectType: 'client' }), restConversation);
    }),
  ];
}
