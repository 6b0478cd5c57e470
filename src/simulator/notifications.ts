import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocket, WebSocketServer } from 'ws';
import type { Channel, ChannelRegistry, ChannelTopic } from './channels.ts';
import type { Outcome } from './errors.ts';
import { iso } from './ids.ts';
import type { Clock } from './types.ts';

export interface NotificationsDeps {
  clock: Clock;
  registry: ChannelRegistry;
  heartbeatMs: number;
  socketClosingLeadMs: number;
  orgId: string;
  /** ws://host:port, known once the server listens. */
  wsBase: () => string;
  onSocketOpened: () => void;
}

/** The message envelope of every event sent on a channel socket. */
export function eventMessage(topicName: string, eventBody: unknown): Record<string, unknown> {
  return { topicName, version: '2', eventBody, metadata: { CorrelationId: randomUUID() } };
}

/** setTimeout's ceiling; longer lifetimes are re-armed when the timer fires. */
const MAX_TIMER_MS = 2 ** 31 - 1;
const HEARTBEAT = JSON.stringify({ topicName: 'channel.metadata', eventBody: { message: 'WebSocket Heartbeat' } });
const PONG = JSON.stringify({ topicName: 'channel.metadata', eventBody: { message: 'pong' } });

/**
 * WebSocket side of the notification service: one socket per channel (a new connection closes the previous one),
 * heartbeats, ping/pong, socket_closing and channel expiry. There is no durability: an event is delivered only to
 * sockets open when it is published.
 */
export class Notifications {
  private readonly sockets = new Map<string, WebSocket>();
  private readonly expiryTimers = new Map<string, NodeJS.Timeout>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly wss = new WebSocketServer({ noServer: true });

  constructor(private readonly deps: NotificationsDeps) {}

  createChannel(clientId: string, tokenId: string): Record<string, string> {
    const { channel, replaced } = this.deps.registry.create(clientId, tokenId, (id) => this.sockets.has(id));
    if (replaced) this.closeChannel(replaced.id, 1000, 'channel replaced by a newer channel of the same client');
    this.armExpiry(channel);
    return this.view(channel);
  }

  view(c: Channel): Record<string, string> {
    return { connectUri: `${this.deps.wsBase()}/channels/${c.id}`, id: c.id, expires: iso(c.expires) };
  }

  subscribe(id: string, body: unknown, mode: 'put' | 'post'): Outcome<ChannelTopic[]> {
    const r = this.deps.registry.subscribe(id, body, mode);
    const c = this.deps.registry.get(id);
    if (r.ok && c) this.armExpiry(c);
    return r;
  }

  /** Accepts a socket for a live channel; an unknown or expired channel gets a plain 404 instead of an upgrade. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const m = /^\/channels\/([^/?]+)/.exec(req.url ?? '');
    const channel = m ? this.deps.registry.get(decodeURIComponent(m[1]!)) : undefined;
    if (!channel) {
      socket.end('HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
      return;
    }
    this.wss.handleUpgrade(req, socket, head, (ws) => this.attach(channel, ws));
  }

  /** Sends an event to every open socket subscribed to it; returns how many received it. */
  publish(topicName: string, message: Record<string, unknown>): number {
    let delivered = 0;
    const text = JSON.stringify(message);
    for (const [channelId, ws] of this.sockets) {
      if (ws.readyState === WebSocket.OPEN && this.deps.registry.wants(channelId, topicName)) {
        ws.send(text);
        delivered++;
      }
    }
    return delivered;
  }

  /** Announces maintenance on every socket, then closes them `socketClosingLeadMs` later. */
  socketClosing(): void {
    for (const [channelId, ws] of this.sockets) {
      if (ws.readyState !== WebSocket.OPEN) continue;
      const c = this.deps.registry.get(channelId);
      const seconds = Math.max(1, Math.round(this.deps.socketClosingLeadMs / 1000));
      ws.send(JSON.stringify(eventMessage('v2.system.socket_closing', {
        message: `This WebSocket will be closed for maintenance in ${seconds} seconds; reconnect to the same channel`,
        channelId, correlationId: randomUUID(), organizationId: this.deps.orgId, ...(c ? { oauthClientId: c.clientId, oauthClientOrgId: this.deps.orgId } : {}),
      })));
      this.later(this.deps.socketClosingLeadMs, () => ws.close(1001, 'socket closing for maintenance'));
    }
  }

  /** Terminates every socket without a close frame, as a network failure would. */
  dropSockets(): void {
    for (const ws of this.sockets.values()) ws.terminate();
  }

  malformed(text: string): void {
    for (const ws of this.sockets.values()) if (ws.readyState === WebSocket.OPEN) ws.send(text);
  }

  /** Removes a channel (e.g. replaced) and closes its socket. */
  closeChannel(id: string, code: number, reason: string): void {
    this.deps.registry.remove(id);
    clearTimeout(this.expiryTimers.get(id));
    this.expiryTimers.delete(id);
    this.sockets.get(id)?.close(code, reason);
  }

  close(): void {
    for (const t of [...this.timers, ...this.expiryTimers.values()]) clearTimeout(t);
    for (const ws of this.sockets.values()) ws.terminate();
    this.sockets.clear();
    this.wss.close();
  }

  private attach(channel: Channel, ws: WebSocket): void {
    this.sockets.get(channel.id)?.close(1000, 'another connection to this channel was opened');
    this.sockets.set(channel.id, ws);
    this.deps.onSocketOpened();
    const heartbeat = setInterval(() => ws.readyState === WebSocket.OPEN && ws.send(HEARTBEAT), this.deps.heartbeatMs);
    ws.on('message', (data) => {
      if (isPing(data.toString())) ws.send(PONG);
    });
    ws.on('error', () => ws.terminate());
    ws.on('close', () => {
      clearInterval(heartbeat);
      if (this.sockets.get(channel.id) === ws) this.sockets.delete(channel.id);
    });
  }

  private armExpiry(c: Channel): void {
    clearTimeout(this.expiryTimers.get(c.id));
    const timer = setTimeout(() => this.expire(c.id), Math.min(Math.max(c.expires - this.deps.clock(), 0) + 5, MAX_TIMER_MS));
    timer.unref();
    this.expiryTimers.set(c.id, timer);
  }

  private expire(id: string): void {
    const live = this.deps.registry.get(id);
    if (live) return this.armExpiry(live);
    this.closeChannel(id, 1000, 'channel expired');
  }

  private later(ms: number, fn: () => void): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      fn();
    }, ms);
    this.timers.add(t);
  }
}

function isPing(text: string): boolean {
  try {
    return (JSON.parse(text) as { message?: unknown }).message === 'ping';
  } catch {
    return false;
  }
}
