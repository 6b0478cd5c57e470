import { randomUUID } from 'node:crypto';
import { covers, templateOf } from './topics.ts';
import type { Clock } from './types.ts';

export interface EventBridgeOptions {
  url: string;
  /** Headers of the API destination's connection (an API-key connection sends e.g. `Authorization: Bearer …`). */
  headers?: Record<string, string>;
  /** Topic templates to forward (`{id}` = any id); default all. */
  topics?: string[];
  orgId: string;
  eventSourceSuffix: string;
  account: string;
  region: string;
  clock: Clock;
  /** Delay before the first retry; doubles per attempt up to `maxRetryDelayMs`. */
  retryDelayMs: number;
  maxRetryDelayMs: number;
  /** EventBridge keeps retrying for 4 days (scaled). */
  giveUpAfterMs: number;
}

/**
 * Forwards published events to an HTTP endpoint as EventBridge envelopes (`detail-type` = topic template,
 * `detail` = the WebSocket message plus `timestamp`). Failed posts are retried with exponential backoff; order
 * between events is not preserved.
 */
export class EventBridgeForwarder {
  readonly stats = { delivered: 0, retries: 0, abandoned: 0 };
  private readonly timers = new Set<NodeJS.Timeout>();
  private closed = false;

  constructor(private readonly o: EventBridgeOptions) {}

  wants(topicName: string): boolean {
    return !this.o.topics || this.o.topics.some((t) => covers(t, topicName));
  }

  forward(message: { topicName: string } & Record<string, unknown>): void {
    const now = this.o.clock();
    const envelope = {
      version: '0',
      id: randomUUID(),
      'detail-type': templateOf(message.topicName) ?? message.topicName,
      source: `aws.partner/genesys.com/cloud/${this.o.orgId}/${this.o.eventSourceSuffix}`,
      account: this.o.account,
      time: new Date(now).toISOString().replace(/\.\d{3}Z$/, 'Z'),
      region: this.o.region,
      resources: [],
      detail: { ...message, timestamp: new Date(now).toISOString() },
    };
    void this.attempt(JSON.stringify(envelope), 0, now);
  }

  close(): void {
    this.closed = true;
    for (const t of this.timers) clearTimeout(t);
  }

  private async attempt(body: string, n: number, firstTry: number): Promise<void> {
    if (this.closed) return;
    try {
      const res = await fetch(this.o.url, { method: 'POST', headers: { ...this.o.headers, 'Content-Type': 'application/json' }, body, signal: AbortSignal.timeout(10_000) });
      await res.arrayBuffer();
      if (res.ok) {
        this.stats.delivered++;
        return;
      }
    } catch {
      // unreachable endpoint: retried below like an error status
    }
    const delay = Math.min(this.o.retryDelayMs * 2 ** n, this.o.maxRetryDelayMs);
    if (this.closed || this.o.clock() + delay - firstTry > this.o.giveUpAfterMs) {
      this.stats.abandoned++;
      return;
    }
    this.stats.retries++;
    const t = setTimeout(() => {
      this.timers.delete(t);
      void this.attempt(body, n + 1, firstTry);
    }, delay);
    this.timers.add(t);
  }
}
