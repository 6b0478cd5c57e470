import { performance } from 'node:perf_hooks';

/** Where a task learns the end offsets of its table topics ("topic:partition" → end offset). */
export interface EndOffsetsSource {
  /** Resolves with end offsets read by a request that started at or after monotonic time `t` (`monotonicNow()`). */
  after(t: number): Promise<Map<string, bigint>>;
}

/** Monotonic milliseconds: barrier timing must not jump with the wall clock. */
export const monotonicNow = (): number => performance.now();

/** One end-offset request: when it started, its answer, and whether it failed. */
interface Request {
  startedAt: number;
  promise: Promise<Map<string, bigint>>;
  failed?: boolean;
}

/**
 * Coalesces end-offset look-ups of the table topics for all tasks of an instance. `after(t)` resolves with offsets
 * fetched by a request that started at or after monotonic time `t`, so a caller that took records that arrived by
 * `t` learns an end offset that includes every table record acknowledged before those records were fetched.
 */
export class EndOffsetsProbe implements EndOffsetsSource {
  private current?: Request;
  private next?: Promise<Map<string, bigint>>;

  /**
   * `fetch` returns "topic:partition" → end offset. A fetch that has not answered within `timeoutMs` fails, so a
   * hung request (an unreachable leader) cannot hold back the fetches after it: waiting barriers hold their records
   * meanwhile, and the next barrier starts a fresh request.
   */
  constructor(private readonly fetch: () => Promise<Map<string, bigint>>, private readonly timeoutMs: number) {}

  after(t: number): Promise<Map<string, bigint>> {
    // A request that failed is never reused: the caller's retry gets a fresh one.
    if (this.current && this.current.startedAt >= t && !this.current.failed) return this.current.promise;
    if (!this.next) {
      const previous = this.current?.promise.catch(() => undefined) ?? Promise.resolve(undefined);
      this.next = previous.then(() => {
        this.next = undefined;
        const startedAt = monotonicNow();
        const current: Request = { startedAt, promise: withTimeout(this.fetch(), this.timeoutMs) };
        current.promise.catch(() => { current.failed = true; });
        this.current = current;
        return current.promise;
      });
    }
    return this.next;
  }
}

/**
 * Rejects with "timed out after ms" unless `p` settles first. After the event loop was blocked, Node runs due
 * timers before it reads the sockets, so the timeout is deferred to the check phase (setImmediate): an answer that
 * arrived during the stall settles `p` first, and our own busy time is not mistaken for a slow answer.
 */
export function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => setImmediate(() => reject(new Error(`timed out after ${Math.round(ms)} ms`))), Math.max(0, ms));
    p.then((v) => { clearTimeout(t); resolve(v); }, (e) => { clearTimeout(t); reject(e); });
  });
}
