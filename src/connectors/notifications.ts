import WebSocket from 'ws';
import type { GenesysClient } from '../adapters/genesys.ts';
import type { Logger } from '../adapters/logger.ts';
import type { Clock } from '../domain/clock.ts';
import { mapNotification, parseNotification, type Mapped } from '../domain/genesysEvents.ts';
import { backfill } from './backfill.ts';
import type { Origin, SourceSink } from './sink.ts';

interface Channel {
  id: string;
  connectUri: string;
  expires: string;
}

export interface NotificationsStats {
  messages: number;
  heartbeats: number;
  connects: number;
  gaps: number;
  backfilledRecords: number;
  renewals: number;
  channels: number;
}

export interface NotificationsOptions {
  genesys: GenesysClient;
  sink: SourceSink;
  topics: string[];
  backfillLookbackMs: number;
  clock: Clock;
  logger: Logger;
  /** Fills in what an event does not carry (the current definition of an audited integration). */
  enrich?: (m: Mapped) => Promise<Mapped>;
  /** A socket silent for this long (no event, no heartbeat, no pong) is treated as dead. Genesys beats every 30 s. */
  silenceMs?: number;
  /** Backfill starts this much before the last message seen, to cover events in flight when the socket died. */
  gapMarginMs?: number;
}

const SOURCE = 'genesys-notifications';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Genesys notifications → Kafka. Creates a channel, subscribes, streams over the WebSocket (the SDK wraps only
 * the REST part) and keeps streaming: it reconnects after a drop or a `v2.system.socket_closing`, resubscribes
 * before the 24 h channel expiry (which extends it) and opens a new channel when one is gone. Genesys keeps
 * nothing for a disconnected channel, so every gap — from the last message seen, minus a margin, to the moment
 * the new socket is up — is backfilled over REST; the ids the backfill rebuilds are those the socket would have
 * delivered, so the sink writes each event once. Events arriving after a gap are written only once its backfill
 * is, so an opt-out lost in the gap reaches consent.events before the customer's next record.
 */
export class NotificationsSource {
  readonly stats: NotificationsStats = { messages: 0, heartbeats: 0, connects: 0, gaps: 0, backfilledRecords: 0, renewals: 0, channels: 0 };
  private channel?: Channel;
  private socket?: WebSocket;
  private stopped = false;
  private lastMessageAt = 0;
  private gapFrom: number | null = null;
  private pending: { mapped: Mapped; origin: Origin }[] = [];
  private flushing?: Promise<void>;
  private renewTimer?: NodeJS.Timeout;
  private watchdog?: NodeJS.Timeout;
  private reconnecting?: Promise<void>;
  private backfills: Promise<void> = Promise.resolve();

  constructor(private readonly o: NotificationsOptions) {}

  get connected(): boolean {
    return this.socket?.readyState === WebSocket.OPEN;
  }

  /** Resolves once the first socket is open and subscribed. */
  async start(): Promise<void> {
    await this.openChannel();
    await this.connect();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.renewTimer);
    clearInterval(this.watchdog);
    this.socket?.close();
    await this.flushing?.catch(() => {});
    await this.backfills.catch(() => {});
  }

  /** Resolves when every message received so far and every backfill started so far is written. */
  async drained(): Promise<void> {
    await this.flushing;
    await this.backfills;
  }

  private async openChannel(): Promise<void> {
    const ch = await this.o.genesys.call<Channel>('postNotificationsChannels', (a) => a.notifications.postNotificationsChannels!());
    this.stats.channels++;
    this.channel = ch;
    await this.subscribe();
  }

  /** PUT of the topic list: subscribes, and extends the channel's 24 h lifetime. */
  private async subscribe(): Promise<void> {
    const ch = this.channel!;
    const res = await this.o.genesys.call<{ entities: { id: string; state?: string; rejectionReason?: string }[] }>(
      'putNotificationsChannelSubscriptions',
      (a) => a.notifications.putNotificationsChannelSubscriptions!(ch.id, this.o.topics.map((id) => ({ id }))),
    );
    const rejected = (res.entities ?? []).filter((e) => e.state === 'Rejected');
    for (const r of rejected) this.o.logger.warn({ topic: r.id, reason: r.rejectionReason }, 'notification topic rejected: use the EventBridge intake for it');
    if (rejected.length === this.o.topics.length) throw new Error(`every notification topic was rejected (${rejected.map((r) => r.rejectionReason).join('; ')})`);
    const listing = await this.o.genesys.call<{ entities: Channel[] }>('getNotificationsChannels', (a) => a.notifications.getNotificationsChannels!({ includechannels: 'oauthclient' }));
    const fresh = listing.entities?.find((c) => c.id === ch.id);
    if (fresh?.expires) ch.expires = fresh.expires;
    this.scheduleRenewal();
  }

  private scheduleRenewal(): void {
    clearTimeout(this.renewTimer);
    const left = Date.parse(this.channel!.expires) - this.o.clock.now();
    if (!Number.isFinite(left)) return;
    // Renew when 80% of the lifetime has passed (at most 1 h early), well before Genesys drops the channel.
    const at = Math.max(0, left - Math.min(3_600_000, left * 0.2));
    this.renewTimer = setTimeout(() => {
      this.stats.renewals++;
      this.subscribe().catch((err) => {
        this.o.logger.warn({ err: (err as Error).message }, 'channel renewal failed: opening a new channel');
        void this.reconnect(true);
      });
    }, at);
    this.renewTimer.unref();
  }

  private connect(): Promise<void> {
    const ch = this.channel!;
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(ch.connectUri);
      let opened = false;
      ws.on('open', () => {
        opened = true;
        this.socket = ws;
        this.stats.connects++;
        this.lastMessageAt = this.o.clock.now();
        this.armWatchdog(ws);
        if (this.gapFrom !== null) this.startBackfill(this.gapFrom);
        this.gapFrom = null;
        resolve();
      });
      ws.on('message', (data) => this.onMessage(Buffer.isBuffer(data) ? data : Buffer.from(data as ArrayBuffer)));
      ws.on('error', (err) => {
        if (!opened) reject(err);
      });
      ws.on('unexpected-response', (_req, res) => {
        ws.terminate();
        if (!opened) reject(Object.assign(new Error(`channel ${ch.id}: HTTP ${res.statusCode} on connect`), { status: res.statusCode }));
      });
      ws.on('close', () => {
        if (this.socket !== ws || this.stopped) return;
        this.markGap();
        void this.reconnect(false);
      });
    });
  }

  private markGap(): void {
    if (this.gapFrom === null) {
      this.gapFrom = this.lastMessageAt - (this.o.gapMarginMs ?? 5_000);
      this.stats.gaps++;
    }
  }

  private armWatchdog(ws: WebSocket): void {
    clearInterval(this.watchdog);
    const silence = this.o.silenceMs ?? 95_000;
    this.watchdog = setInterval(() => {
      const quiet = this.o.clock.now() - this.lastMessageAt;
      if (quiet > silence) {
        this.o.logger.warn({ quietMs: quiet }, 'notification socket silent: reconnecting');
        ws.terminate();
      } else if (quiet > silence / 2 && ws.readyState === WebSocket.OPEN) {
        ws.send(JSON.stringify({ message: 'ping' }));
      }
    }, Math.max(50, silence / 4));
    this.watchdog.unref();
  }

  /** Reconnects to the same channel, or to a new one when it is gone; retries until it works or the source stops. */
  private reconnect(newChannel: boolean): Promise<void> {
    this.reconnecting ??= (async () => {
      this.markGap();
      this.socket = undefined;
      for (let attempt = 1; !this.stopped; attempt++) {
        try {
          if (newChannel) await this.openChannel();
          await this.connect();
          return;
        } catch (err) {
          const status = (err as { status?: number }).status;
          newChannel = newChannel || status === 404 || status === 410;
          this.o.logger.warn({ attempt, err: (err as Error).message }, 'notification socket: reconnect failed');
          await sleep(Math.min(30_000, 250 * 2 ** Math.min(attempt, 7)));
        }
      }
    })().finally(() => (this.reconnecting = undefined));
    return this.reconnecting;
  }

  /** Backfills [from, now] until it succeeds (or the source stops); live events wait for it, see onMessage. */
  private startBackfill(from: number): void {
    const to = this.o.clock.now() + 1_000;
    this.backfills = this.backfills.then(async () => {
      for (let attempt = 1; !this.stopped; attempt++) {
        try {
          this.stats.backfilledRecords += await backfill({ genesys: this.o.genesys, sink: this.o.sink, from, to, lookbackMs: this.o.backfillLookbackMs, topics: this.o.topics, logger: this.o.logger });
          return;
        } catch (err) {
          this.o.logger.error({ err: (err as Error).message, attempt }, 'backfill failed: retrying');
          await sleep(Math.min(30_000, 1_000 * 2 ** Math.min(attempt, 5)));
        }
      }
    });
  }

  private onMessage(raw: Buffer): void {
    this.lastMessageAt = this.o.clock.now();
    this.stats.messages++;
    const text = raw.toString('utf8');
    const parsed = parseNotification(text);
    const origin: Origin = { source: SOURCE, what: parsed.ok ? parsed.topicName : 'websocket', raw };
    if (parsed.ok && parsed.topicName === 'channel.metadata') {
      this.stats.heartbeats++;
      return;
    }
    if (parsed.ok && parsed.topicName.startsWith('v2.system.')) {
      this.onSystem(parsed.topicName);
      return;
    }
    const mapped: Mapped = parsed.ok ? mapNotification(parsed.topicName, parsed.eventBody) : { kind: 'invalid', reason: parsed.reason };
    this.pending.push({ mapped, origin });
    this.flush();
  }

  /**
   * Writes what arrived, in arrival order, in batches: whatever queued up during one write goes in the next (one
   * broker round trip for many events). Every write waits for the backfill of any gap before it, so an opt-out
   * lost in the gap is on consent.events before the customer's next record. A failing enrichment still writes.
   */
  private flush(): void {
    this.flushing ??= (async () => {
      while (this.pending.length) {
        await this.backfills;
        const batch = this.pending.splice(0, 2000);
        const items = this.o.enrich ? await Promise.all(batch.map(async (b) => ({ ...b, mapped: await this.o.enrich!(b.mapped).catch(() => b.mapped) }))) : batch;
        await this.o.sink.write(items).catch((err) => this.o.logger.error({ err: (err as Error).message, records: items.length }, 'notifications not written'));
      }
    })().finally(() => (this.flushing = undefined));
  }

  private onSystem(topic: string): void {
    if (topic === 'v2.system.socket_closing') {
      this.o.logger.info('socket_closing: moving to a new socket on the same channel');
      void this.reconnect(false);
    } else if (/no_longer_subscribed|token_revoked|subscription/.test(topic)) {
      this.o.logger.warn({ topic }, 'subscription lost: opening a new channel');
      void this.reconnect(true);
    }
  }
}
