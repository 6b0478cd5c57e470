import { z } from 'zod';
import { badRequest, fail, invalidBody, notFound, ok, type Outcome } from './errors.ts';
import { covers, templateOf } from './topics.ts';
import type { Clock } from './types.ts';

export interface Channel {
  id: string;
  clientId: string;
  tokenId: string;
  created: number;
  expires: number;
  topics: Set<string>;
}

export interface ChannelTopic {
  id: string;
  state: 'Permitted' | 'Rejected';
  rejectionReason?: string;
  missingPermissions: string[];
  selfUri: string;
}

const SubscriptionBody = z.array(z.object({ id: z.string().min(1) }));

export interface ChannelRegistryDeps {
  clock: Clock;
  newId: () => string;
  ttlMs: number;
  maxPerClient: number;
  maxTopics: number;
  eventBridgeOnly: string[];
}

/** Notification channels and their subscriptions. Time-based expiry is read from the clock; nothing here owns a timer. */
export class ChannelRegistry {
  private readonly channels = new Map<string, Channel>();
  constructor(private readonly deps: ChannelRegistryDeps) {}

  /**
   * Opens a channel for a client. At the per-client maximum the oldest channel is replaced, preferring one
   * without a connected socket; the replaced channel is returned so its socket can be closed.
   */
  create(clientId: string, tokenId: string, isConnected: (id: string) => boolean): { channel: Channel; replaced?: Channel } {
    const mine = [...this.channels.values()].filter((c) => c.clientId === clientId).sort((a, b) => a.created - b.created);
    let replaced: Channel | undefined;
    if (mine.length >= this.deps.maxPerClient) {
      replaced = mine.find((c) => !isConnected(c.id)) ?? mine[0]!;
      this.channels.delete(replaced.id);
    }
    const now = this.deps.clock();
    const channel: Channel = { id: `streaming-0-${this.deps.newId()}`, clientId, tokenId, created: now, expires: now + this.deps.ttlMs, topics: new Set() };
    this.channels.set(channel.id, channel);
    return { channel, ...(replaced ? { replaced } : {}) };
  }

  /** A live channel; an expired one reads as absent (the caller's sweep removes it and closes its socket). */
  get(id: string): Channel | undefined {
    const c = this.channels.get(id);
    return c && c.expires > this.deps.clock() ? c : undefined;
  }

  remove(id: string): Channel | undefined {
    const c = this.channels.get(id);
    this.channels.delete(id);
    return c;
  }

  /** Channels of the caller's token (`token`, the default) or of its whole OAuth client (`oauthclient`). */
  list(clientId: string, tokenId: string, scope: string | null): Channel[] {
    return [...this.channels.values()].filter((c) => this.get(c.id) && c.clientId === clientId && (scope === 'oauthclient' || c.tokenId === tokenId));
  }

  topics(id: string): Outcome<ChannelTopic[]> {
    const c = this.get(id);
    if (!c) return fail(notFound(`Channel ${id} not found`));
    return ok([...c.topics].map((t) => this.topic(id, t, undefined)));
  }

  /**
   * Replaces (`put`) or extends (`post`) a channel's subscriptions. Each requested topic is Permitted or Rejected
   * (unknown topic, or a topic only available through EventBridge). Either call extends the channel's lifetime.
   */
  subscribe(id: string, body: unknown, mode: 'put' | 'post'): Outcome<ChannelTopic[]> {
    const c = this.get(id);
    if (!c) return fail(notFound(`Channel ${id} not found`));
    const parsed = SubscriptionBody.safeParse(body);
    if (!parsed.success) return fail(invalidBody(parsed.error));
    const requested = [...new Set(parsed.data.map((t) => t.id))];
    const results = requested.map((t) => this.topic(id, t, this.rejection(t)));
    const permitted = results.filter((r) => r.state === 'Permitted').map((r) => r.id);
    const next = new Set(mode === 'put' ? permitted : [...c.topics, ...permitted]);
    if (requested.length > this.deps.maxTopics || next.size > this.deps.maxTopics) {
      return fail(badRequest(`A channel may subscribe to at most ${this.deps.maxTopics} topics`, 'notifications.too.many.topics'));
    }
    c.topics = next;
    c.expires = this.deps.clock() + this.deps.ttlMs;
    return ok(results);
  }

  unsubscribeAll(id: string): boolean {
    const c = this.get(id);
    if (c) c.topics.clear();
    return c !== undefined;
  }

  /** Whether a live channel has a subscription covering the concrete topic (exactly, or through a `{id}` template). */
  wants(channelId: string, topicName: string): boolean {
    const c = this.get(channelId);
    if (!c) return false;
    if (c.topics.has(topicName)) return true;
    for (const t of c.topics) if (t.includes('{id}') && covers(t, topicName)) return true;
    return false;
  }

  private rejection(topic: string): string | undefined {
    if (!templateOf(topic)) return `Topic ${topic} is not a valid topic`;
    if (this.deps.eventBridgeOnly.some((e) => covers(e, topic))) return `Topic ${topic} is only available via EventBridge, not over WebSocket notification channels`;
    return undefined;
  }

  private topic(channelId: string, id: string, rejectionReason: string | undefined): ChannelTopic {
    return {
      id,
      state: rejectionReason ? 'Rejected' : 'Permitted',
      ...(rejectionReason ? { rejectionReason } : {}),
      missingPermissions: [],
      selfUri: `/api/v2/notifications/channels/${channelId}/subscriptions`,
    };
  }
}
