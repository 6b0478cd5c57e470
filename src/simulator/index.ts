import { randomBytes } from 'node:crypto';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { TokenIssuer } from './auth.ts';
import { ChannelRegistry } from './channels.ts';
import { EventBridgeForwarder } from './eventBridge.ts';
import { RestFaults } from './faults.ts';
import { createApiServer } from './http.ts';
import { eventMessage, Notifications } from './notifications.ts';
import { Org, type ConsentChange } from './org.ts';
import { RateLimiter } from './rateLimit.ts';
import { adminRoutes } from './routes/admin.ts';
import { analyticsRoutes } from './routes/analytics.ts';
import { auditRoutes } from './routes/audits.ts';
import { contactRoutes } from './routes/contacts.ts';
import { conversationRoutes } from './routes/conversations.ts';
import { gdprRoutes } from './routes/gdpr.ts';
import { notificationRoutes } from './routes/notifications.ts';
import { EVENTBRIDGE_SOURCE, orgSeed } from './seed.ts';
import { TOPIC_TEMPLATES } from './topics.ts';
import { runTraffic, type TrafficOptions } from './traffic.ts';
import type { AnalyticsConversation, ExternalContact, Integration, MediaType, OAuthClient, TrafficSummary } from './types.ts';

export type * from './types.ts';
export type { ConsentChange } from './org.ts';
export type { TrafficOptions } from './traffic.ts';
export { COMPLIANCE_CONSENT_FIELDS } from './schema.ts';
export { TOPIC_TEMPLATES, covers } from './topics.ts';

const HOUR = 3600_000;

export interface SimulatorOptions {
  /** 0 or undefined: a free port. */
  port?: number;
  /** Listen address (default 127.0.0.1). */
  host?: string;
  /** The host name clients use, in its base URL and channel URIs (default: `host`), e.g. a compose service name. */
  publicHost?: string;
  /** Seed of every default id (org, client, schema, seeded entities). Default 1. */
  seed?: number;
  clientId?: string;
  clientSecret?: string;
  orgId?: string;
  /** Accelerated time: every nominal duration below is divided by it. Default 1. */
  timeScale?: number;
  /** Real seconds; default 86399 / timeScale (min 1). */
  tokenTtlSec?: number;
  channelTtlMs?: number;
  heartbeatMs?: number;
  socketClosingLeadMs?: number;
  /** Per OAuth client API budget per rate window (org.app.user.rate.per.minute). Default 3000. */
  requestsPerMinute?: number;
  /** Token endpoint budget per client per rate window (client.credentials.token.rate.per.minute). Default 300. */
  tokenRequestsPerMinute?: number;
  /** Length of the rate-limit window in real ms; not scaled. Default 60000. */
  rateWindowMs?: number;
  /** Topic templates that WebSocket subscriptions reject (state "Rejected"). */
  eventBridgeOnlyTopics?: string[];
  /** QUEUED→FULFILLED delay of analytics jobs (also audit queries and GDPR requests). Default 300. */
  analyticsJobDelayMs?: number;
  /** Lifetime of async jobs; default 2 days / timeScale. */
  jobTtlMs?: number;
  /** Default page size of job results (max 1000). Default 100. */
  jobResultsPageSize?: number;
  eventBridge?: { url: string; topics?: string[]; headers?: Record<string, string> };
  /** Cap on the `published` history (oldest dropped first). Default unlimited. */
  publishedHistoryLimit?: number;
  clock?: () => number;
}

export interface PublishedEvent {
  topicName: string;
  eventBody: unknown;
  /** Sockets that received it; 0 while no subscribed socket was open. */
  deliveredTo: number;
  at: number;
}

export interface SimulatorStats {
  logins: number;
  requests: number;
  rateLimited: number;
  /** REST responses produced by an injected fault. */
  faults: number;
  socketsOpened: number;
  published: number;
}

interface Parts {
  server: Server;
  host: string;
  port: number;
  seed: number;
  org: Org;
  notifications: Notifications;
  tokens: TokenIssuer;
  restFaults: RestFaults;
  eventBridge?: EventBridgeForwarder;
  timers: Set<NodeJS.Timeout>;
  stats: SimulatorStats;
  published: PublishedEvent[];
}

/** Base32-like channel id suffix, as in `streaming-0-fmtdmf8cdis7jh14udg5p89t6z`. */
const channelSuffix = () => [...randomBytes(26)].map((b) => '0123456789abcdefghijklmnopqrstuv'[b % 32]).join('');

/**
 * A local Genesys Cloud: OAuth, REST APIs and notification WebSockets on 127.0.0.1, faithful to the public API
 * shapes so that the official SDK and the connectors can talk to it. Org mutations publish the matching events.
 */
export class GenesysSimulator {
  readonly baseUrl: string;
  readonly port: number;
  readonly clientId: string;
  readonly clientSecret: string;
  readonly orgId: string;
  readonly stats: Readonly<SimulatorStats>;
  readonly published: readonly PublishedEvent[];
  readonly faults: {
    rateLimitFor(ms: number, retryAfterSec?: number): void;
    failNext(n: number, status?: number): void;
    dropSockets(): void;
    socketClosing(): void;
    malformed(text: string): void;
    expireTokens(): void;
  };
  /** The in-memory org, for tests that need more than the methods below. */
  readonly org: Org;

  private closing: Promise<void> | undefined;
  private readonly stopTraffic = new AbortController();

  private constructor(private readonly parts: Parts) {
    const { org, notifications, tokens, restFaults } = parts;
    this.org = org;
    this.port = parts.port;
    this.baseUrl = `http://${parts.host}:${parts.port}`;
    this.clientId = org.seed.clientId;
    this.clientSecret = org.seed.clientSecret;
    this.orgId = org.seed.orgId;
    this.stats = parts.stats;
    this.published = parts.published;
    this.faults = {
      rateLimitFor: (ms, retryAfterSec) => restFaults.rateLimitFor(ms, retryAfterSec),
      failNext: (n, status) => restFaults.failNext(n, status),
      dropSockets: () => notifications.dropSockets(),
      socketClosing: () => notifications.socketClosing(),
      malformed: (text) => notifications.malformed(text),
      expireTokens: () => tokens.revokeAll(),
    };
  }

  static async start(opts: SimulatorOptions = {}): Promise<GenesysSimulator> {
    const clock = opts.clock ?? Date.now;
    const scale = opts.timeScale ?? 1;
    if (!(scale > 0)) throw new Error('timeScale must be positive');
    const host = opts.host ?? '127.0.0.1';
    // The name clients reach it by (base URL, notification channels' connectUri): the listen address unless given.
    const publicHost = opts.publicHost ?? host;
    const seed = orgSeed(opts.seed ?? 1, opts);
    const stats: SimulatorStats = { logins: 0, requests: 0, rateLimited: 0, faults: 0, socketsOpened: 0, published: 0 };
    const published: PublishedEvent[] = [];
    const timers = new Set<NodeJS.Timeout>();
    // Runs `fn` once the clock has passed `ms` from now. A Node timer set during a long synchronous stretch can fire
    // early against the wall clock (the event loop's cached time was behind), and a GDPR request settled before its
    // due time would never complete; with the real clock the timer is armed again for what is left.
    const schedule = (ms: number, fn: () => void) => {
      const due = clock() + ms;
      const arm = (wait: number) => {
        const t = setTimeout(() => {
          timers.delete(t);
          const left = due - clock();
          if (left > 0 && clock === Date.now) arm(left);
          else fn();
        }, wait);
        t.unref();
        timers.add(t);
      };
      arm(ms);
    };
    let port = 0;
    const registry = new ChannelRegistry({
      clock, newId: channelSuffix, ttlMs: opts.channelTtlMs ?? (24 * HOUR) / scale, maxPerClient: 20, maxTopics: 1000, eventBridgeOnly: opts.eventBridgeOnlyTopics ?? [],
    });
    const notifications = new Notifications({
      clock, registry, orgId: seed.orgId, wsBase: () => `ws://${publicHost}:${port}`, onSocketOpened: () => void stats.socketsOpened++,
      heartbeatMs: opts.heartbeatMs ?? Math.max(50, 30_000 / scale), socketClosingLeadMs: opts.socketClosingLeadMs ?? Math.max(50, 60_000 / scale),
    });
    const eventBridgeFilter = opts.eventBridge?.topics ?? TOPIC_TEMPLATES.map((t) => t.id);
    const eventBridge = opts.eventBridge && new EventBridgeForwarder({
      url: opts.eventBridge.url, headers: opts.eventBridge.headers, ...(opts.eventBridge.topics ? { topics: opts.eventBridge.topics } : {}), orgId: seed.orgId, clock,
      eventSourceSuffix: EVENTBRIDGE_SOURCE.eventSourceSuffix, account: EVENTBRIDGE_SOURCE.awsAccountId, region: EVENTBRIDGE_SOURCE.awsAccountRegion,
      retryDelayMs: Math.max(10, 500 / scale), maxRetryDelayMs: Math.max(100, 300_000 / scale), giveUpAfterMs: (4 * 24 * HOUR) / scale,
    });
    const publish = (topicName: string, eventBody: unknown) => {
      const message = eventMessage(topicName, eventBody);
      const deliveredTo = notifications.publish(topicName, message);
      if (eventBridge?.wants(topicName)) eventBridge.forward({ ...message, topicName });
      published.push({ topicName, eventBody, deliveredTo, at: clock() });
      if (published.length > (opts.publishedHistoryLimit ?? Infinity)) published.shift();
      stats.published++;
    };
    const org = new Org({ seed, clock, schedule, publish, jobDelayMs: opts.analyticsJobDelayMs ?? 300, jobTtlMs: opts.jobTtlMs ?? (48 * HOUR) / scale, eventBridgeFilter });
    const tokens = new TokenIssuer({ clock, ttlSec: opts.tokenTtlSec ?? Math.max(1, Math.round(86399 / scale)) });
    const restFaults = new RestFaults(clock);
    const windowMs = opts.rateWindowMs ?? 60_000;
    const server = createApiServer({
      routes: [
        ...notificationRoutes(notifications, registry, opts.eventBridgeOnlyTopics ?? []),
        ...contactRoutes(org),
        ...analyticsRoutes(org, clock, Math.min(opts.jobResultsPageSize ?? 100, 1000)),
        ...conversationRoutes(org),
        ...adminRoutes(org),
        ...auditRoutes(org),
        ...gdprRoutes(org),
      ],
      tokens,
      login: (id, secret) => org.admin.login(id, secret) !== undefined,
      apiLimiter: new RateLimiter({ clock, limit: opts.requestsPerMinute ?? 3000, windowMs }),
      tokenLimiter: new RateLimiter({ clock, limit: opts.tokenRequestsPerMinute ?? 300, windowMs }),
      rateWindowSec: Math.round(windowMs / 1000),
      faults: restFaults,
      stats,
      onUpgrade: (req, socket, head) => notifications.handleUpgrade(req, socket, head),
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(opts.port ?? 0, host, () => resolve());
    });
    port = (server.address() as AddressInfo).port;
    return new GenesysSimulator({ server, host: publicHost, port, org, notifications, tokens, restFaults, timers, stats, published, ...(eventBridge ? { eventBridge } : {}), seed: opts.seed ?? 1 });
  }

  gateway(): { host: string; protocol: 'http'; port: number } {
    return { host: this.parts.host, protocol: 'http', port: this.port };
  }

  /** Closes every socket and the server; idempotent. Running traffic stops. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      this.stopTraffic.abort();
      for (const t of this.parts.timers) clearTimeout(t);
      this.parts.notifications.close();
      this.parts.eventBridge?.close();
      this.parts.server.closeAllConnections();
      await new Promise<void>((resolve) => this.parts.server.close(() => resolve()));
    })();
    return this.closing;
  }

  /** Creates or updates a contact (custom fields merge) and publishes `v2.externalcontacts.contacts.{id}`. */
  upsertContact(c: Partial<ExternalContact> & { id?: string }): ExternalContact {
    return this.org.upsertContact(c);
  }

  /** Writes the ComplianceConsent fields (see COMPLIANCE_CONSENT_FIELDS) and publishes the contact change. */
  setConsent(contactId: string, c: ConsentChange): ExternalContact {
    return this.org.setConsent(contactId, c);
  }

  contact(id: string): ExternalContact | undefined {
    return this.org.contacts.get(id);
  }

  /** Records the conversation for analytics and publishes `v2.detail.events.conversation.{id}.customer.start`. */
  startConversation(o: { id?: string; customerId: string | null; mediaType?: MediaType; ani?: string; dnis?: string; at?: number; queueId?: string }): AnalyticsConversation {
    return this.org.conversation(this.org.startConversation(o).id)!;
  }

  /** Ends the conversation (disconnectType default "endpoint") and publishes `…customer.end`; throws if unknown or already ended. */
  endConversation(conversationId: string, o: { at?: number; disconnectType?: string } = {}): AnalyticsConversation {
    const ended = this.org.endConversation(conversationId, o);
    if (!ended.ok) throw new Error(`endConversation: ${ended.problem.message}`);
    return this.org.conversation(conversationId)!;
  }

  conversation(id: string): AnalyticsConversation | undefined {
    return this.org.conversation(id);
  }

  /** With `audit` (default) appends an AuditLogMessage and publishes `v2.audits.entitytype.OAuthClient.entityid.{id}`. */
  upsertOAuthClient(c: Partial<OAuthClient>, o: { audit?: boolean } = {}): OAuthClient {
    return this.org.admin.upsertOAuthClient(c, o.audit ?? true);
  }

  /** Deletes the client (its tokens stop working); throws if unknown. */
  deleteOAuthClient(id: string, o: { audit?: boolean } = {}): void {
    if (!this.org.admin.deleteOAuthClient(id, o.audit ?? true)) throw new Error(`deleteOAuthClient: no OAuth client ${id}`);
    this.parts.tokens.revokeClient(id);
  }

  /** Audited as entityType "Integration", serviceName "Integrations". */
  upsertIntegration(i: Partial<Integration>, o: { audit?: boolean } = {}): Integration {
    return this.org.admin.upsertIntegration(i, o.audit ?? true);
  }

  deleteIntegration(id: string, o: { audit?: boolean } = {}): void {
    if (!this.org.admin.deleteIntegration(id, o.audit ?? true)) throw new Error(`deleteIntegration: no integration ${id}`);
  }

  /** Seeded traffic (default seed: the simulator's); resolves when done or when the simulator closes. */
  traffic(o: TrafficOptions): Promise<TrafficSummary> {
    const signal = o.signal ? AbortSignal.any([o.signal, this.stopTraffic.signal]) : this.stopTraffic.signal;
    return runTraffic(this, { ...o, seed: o.seed ?? this.parts.seed, signal });
  }
}
