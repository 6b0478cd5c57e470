import type { Clock } from './types.ts';

export interface RateDecision {
  allowed: boolean;
  limit: number;
  count: number;
  /** Whole seconds until the window resets (at least 1). */
  resetSec: number;
}

/**
 * Fixed-window request budget per key (an OAuth client). Every decision carries the values of the
 * `inin-ratelimit-*` headers; a refused request still counts, as retries in a storm do.
 */
export class RateLimiter {
  private readonly windows = new Map<string, { start: number; count: number }>();
  constructor(private readonly deps: { clock: Clock; limit: number; windowMs: number }) {}

  take(key: string): RateDecision {
    const now = this.deps.clock();
    let w = this.windows.get(key);
    if (!w || now >= w.start + this.deps.windowMs) {
      w = { start: now, count: 0 };
      this.windows.set(key, w);
    }
    w.count++;
    return { allowed: w.count <= this.deps.limit, limit: this.deps.limit, count: w.count, resetSec: Math.max(1, Math.ceil((w.start + this.deps.windowMs - now) / 1000)) };
  }
}

export function rateLimitHeaders(d: RateDecision): Record<string, string> {
  return { 'inin-ratelimit-allowed': String(d.limit), 'inin-ratelimit-count': String(Math.min(d.count, d.limit)), 'inin-ratelimit-reset': String(d.resetSec) };
}

/** The 429 ErrorBody fields for an exhausted budget (wording as seen in client code; approximate). */
export function tooManyRequests(limit: number, windowSec: number, retryAfterSec: number) {
  return {
    status: 429,
    code: 'too.many.requests',
    message: `Rate limit exceeded the maximum [${limit}] requests within [${windowSec}] seconds`,
    messageWithParams: 'Rate limit exceeded the maximum [{limit}] requests within [{seconds}] seconds',
    messageParams: { limit: String(limit), seconds: String(windowSec), retryAfter: String(retryAfterSec) },
  };
}
