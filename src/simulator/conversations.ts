import { badRequest, fail, notFound, ok, type Outcome } from './errors.ts';
import { iso, namedUuid } from './ids.ts';
import type { AnalyticsConversation, AnalyticsSession, Clock, MediaType } from './types.ts';

/** What the simulator knows about a conversation; every API shape and event is derived from it. */
export interface ConversationFacts {
  id: string;
  mediaType: MediaType;
  direction: 'inbound';
  customerId: string | null;
  customerName: string;
  ani: string;
  dnis: string;
  queueId: string;
  agent: { userId: string; name: string };
  divisionId: string;
  start: number;
  end?: number;
  /** Analytics spelling (lower case), e.g. "endpoint"; events use the upper-case enum. */
  disconnectType?: string;
  customer: { participantId: string; sessionId: string };
  agentParticipant: { participantId: string; sessionId: string };
}

export interface StartConversation {
  id?: string;
  customerId: string | null;
  customerName?: string;
  mediaType?: MediaType;
  ani?: string;
  dnis?: string;
  at?: number;
  queueId?: string;
}

const PROVIDER: Record<MediaType, string> = { voice: 'Edge', chat: 'PureCloud Webchat v2', email: 'PureCloud Email', message: 'PureCloud Messaging', callback: 'PureCloud Callback' };
const DEFAULT_DNIS: Record<MediaType, string> = { voice: 'tel:+18005550100', chat: 'Web Chat', email: 'support@example.com', message: '+18005550100', callback: 'tel:+18005550100' };

export interface ConversationStoreDeps {
  clock: Clock;
  newId: () => string;
  divisionId: string;
  queueIds: string[];
  agents: { userId: string; name: string }[];
}

/** The analytics store: every conversation ever started, in start order. */
export class ConversationStore {
  private readonly byId = new Map<string, ConversationFacts>();
  constructor(private readonly deps: ConversationStoreDeps) {}

  get(id: string): ConversationFacts | undefined {
    return this.byId.get(id);
  }

  all(): ConversationFacts[] {
    return [...this.byId.values()];
  }

  /** Starts a conversation; throws on a duplicate id because callers choose ids deliberately. */
  start(o: StartConversation): ConversationFacts {
    const id = o.id ?? this.deps.newId();
    if (this.byId.has(id)) throw new Error(`conversation ${id} already exists`);
    const mediaType = o.mediaType ?? 'voice';
    const pick = <T>(xs: T[], salt: string): T => xs[parseInt(namedUuid(id + salt).slice(0, 8), 16) % xs.length]!;
    const facts: ConversationFacts = {
      id,
      mediaType,
      direction: 'inbound',
      customerId: o.customerId,
      customerName: o.customerName ?? 'Customer',
      ani: o.ani ?? 'tel:+15550000000',
      dnis: o.dnis ?? DEFAULT_DNIS[mediaType],
      queueId: o.queueId ?? pick(this.deps.queueIds, ':queue'),
      agent: pick(this.deps.agents, ':agent'),
      divisionId: this.deps.divisionId,
      start: o.at ?? this.deps.clock(),
      customer: { participantId: namedUuid(`${id}:customer`), sessionId: namedUuid(`${id}:customer:session`) },
      agentParticipant: { participantId: namedUuid(`${id}:agent`), sessionId: namedUuid(`${id}:agent:session`) },
    };
    this.byId.set(id, facts);
    return facts;
  }

  end(id: string, o: { at?: number; disconnectType?: string } = {}): Outcome<ConversationFacts> {
    const facts = this.byId.get(id);
    if (!facts) return fail(notFound(`Conversation ${id} not found`));
    if (facts.end !== undefined) return fail(badRequest(`Conversation ${id} is already disconnected`, 'conversation.already.disconnected'));
    facts.end = Math.max(o.at ?? this.deps.clock(), facts.start);
    facts.disconnectType = (o.disconnectType ?? 'endpoint').toLowerCase();
    return ok(facts);
  }
}

/** The AnalyticsConversation that backfill reads: it reproduces the ids and times of the customer events. */
export function analyticsConversation(f: ConversationFacts): AnalyticsConversation {
  const start = iso(f.start);
  const end = f.end !== undefined ? iso(f.end) : undefined;
  const session = (sessionId: string, rest: Partial<AnalyticsSession>): AnalyticsSession => ({
    sessionId, mediaType: f.mediaType, direction: f.direction, ani: f.ani, dnis: f.dnis, provider: PROVIDER[f.mediaType], metrics: [], segments: [], ...rest,
  });
  return {
    conversationId: f.id,
    conversationStart: start,
    ...(end ? { conversationEnd: end } : {}),
    originatingDirection: f.direction,
    divisionIds: [f.divisionId],
    participants: [
      {
        participantId: f.customer.participantId,
        participantName: f.customerName,
        purpose: 'customer',
        ...(f.customerId ? { externalContactId: f.customerId } : {}),
        sessions: [session(f.customer.sessionId, {
          requestedRoutings: ['Standard'], usedRouting: 'Standard', selectedAgentId: f.agent.userId,
          metrics: [{ name: 'nConnected', value: 1, emitDate: start }],
          segments: [{ segmentStart: start, ...(end ? { segmentEnd: end, disconnectType: f.disconnectType } : {}), segmentType: 'interact', queueId: f.queueId, conference: false }],
        })],
      },
      {
        participantId: f.agentParticipant.participantId,
        participantName: f.agent.name,
        purpose: 'agent',
        userId: f.agent.userId,
        sessions: [session(f.agentParticipant.sessionId, {
          peerId: f.customer.sessionId,
          metrics: end ? [{ name: 'tTalkComplete', value: f.end! - f.start, emitDate: end }] : [],
          segments: [
            { segmentStart: start, ...(end ? { segmentEnd: end, disconnectType: 'peer' } : {}), segmentType: 'interact', queueId: f.queueId, conference: false },
            ...(end ? [{ segmentStart: end, segmentEnd: end, segmentType: 'wrapup' as const, queueId: f.queueId, wrapUpCode: namedUuid('wrapup:default'), conference: false }] : []),
          ],
        })],
      },
    ],
  };
}

function customerEventBase(f: ConversationFacts, eventTime: number): Record<string, unknown> {
  return {
    eventTime,
    conversationId: f.id,
    participantId: f.customer.participantId,
    sessionId: f.customer.sessionId,
    mediaType: f.mediaType.toUpperCase(),
    ...(f.customerId ? { externalContactId: f.customerId } : {}),
    provider: PROVIDER[f.mediaType],
    direction: f.direction.toUpperCase(),
    ani: f.ani,
    dnis: f.dnis,
    addressTo: f.dnis,
    addressFrom: f.ani,
    callbackNumbers: f.mediaType === 'callback' ? [f.ani.replace(/^tel:/, '')] : [],
    conversationExternalContactIds: f.customerId ? [f.customerId] : [],
    conversationExternalOrganizationIds: [],
    divisionId: f.divisionId,
  };
}

/** Body of `v2.detail.events.conversation.{id}.customer.start` (CustomerStartDetailEventTopicCustomerStartEvent). */
export const customerStartEvent = (f: ConversationFacts): Record<string, unknown> => customerEventBase(f, f.start);

/** Body of `…customer.end`: the start fields plus disconnectType (upper-case enum) and interactingDurationMs. */
export function customerEndEvent(f: ConversationFacts): Record<string, unknown> {
  const { eventTime: _t, ...base } = customerEventBase(f, f.end!);
  return { eventTime: f.end!, ...base, disconnectType: f.disconnectType!.toUpperCase(), interactingDurationMs: f.end! - f.start };
}

export const MEDIA_PATHS: Record<string, MediaType> = { calls: 'voice', callbacks: 'callback', chats: 'chat', emails: 'email', messages: 'message' };
const MEDIA_FIELD: Record<MediaType, string> = { voice: 'calls', callback: 'callbacks', chat: 'chats', email: 'emails', message: 'messages' };

/** The live `Conversation` model of `GET /api/v2/conversations/{id}`. */
export function restConversation(f: ConversationFacts): Record<string, unknown> {
  const state = f.end === undefined ? 'connected' : 'disconnected';
  const times = { startTime: iso(f.start), connectedTime: iso(f.start), ...(f.end !== undefined ? { endTime: iso(f.end) } : {}) };
  const media = (sessionId: string, disconnectType?: string) => ({
    [MEDIA_FIELD[f.mediaType]]: [{ id: sessionId, state, direction: f.direction, provider: PROVIDER[f.mediaType], ...(f.end !== undefined ? { disconnectType, disconnectedTime: iso(f.end) } : {}) }],
  });
  return {
    id: f.id,
    ...times,
    address: f.dnis,
    participants: [
      { id: f.customer.participantId, ...times, name: f.customerName, purpose: 'customer', ...(f.customerId ? { externalContactId: f.customerId } : {}), ani: f.ani, dnis: f.dnis, queueId: f.queueId, ...media(f.customer.sessionId, f.disconnectType) },
      { id: f.agentParticipant.participantId, ...times, name: f.agent.name, userId: f.agent.userId, purpose: 'agent', queueId: f.queueId, ...media(f.agentParticipant.sessionId, 'peer') },
    ],
    recordingState: 'none',
    state,
    divisions: [{ division: { id: f.divisionId, selfUri: `/api/v2/authorization/divisions/${f.divisionId}` }, entities: [] }],
    selfUri: `/api/v2/conversations/${f.id}`,
  };
}
