import type { Clock } from './types.ts';

export type RestFault = { kind: 'rateLimit'; retryAfterSec: number } | { kind: 'fail'; status: number };

/** Injected REST failures, consulted once per API call (never for /oauth/token). */
export class RestFaults {
  private rateLimitedUntil = 0;
  private retryAfterSec = 1;
  private failures: number[] = [];
  constructor(private readonly clock: Clock) {}

  rateLimitFor(ms: number, retryAfterSec = 1): void {
    this.rateLimitedUntil = this.clock() + ms;
    this.retryAfterSec = retryAfterSec;
  }

  failNext(n: number, status = 503): void {
    for (let i = 0; i < n; i++) this.failures.push(status);
  }

  /** The fault this call meets, if any; a failNext is used up by the call it fails. */
  next(): RestFault | undefined {
    if (this.clock() < this.rateLimitedUntil) return { kind: 'rateLimit', retryAfterSec: this.retryAfterSec };
    const status = this.failures.shift();
    return status === undefined ? undefined : { kind: 'fail', status };
  }
}
