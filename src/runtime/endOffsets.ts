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

interface Waiter {
  t: number;
  resolve(ends: Map<string, bigint>): void;
  reject(err: unknown): void;
}

/**
 * End offsets from the consumer's own fetches first, a look-up second. A read_committed fetch response carries the
 * last stable offset of every partition it fetched, computed by the broker after the request was sent: the first
 * fetch sent at or after `t` answers `after(t)` at no cost. Under load that fetch answers within milliseconds (it
 * returns as soon as any of its partitions has data); an idle consumer's fetch waits up to its maxWaitTime for data,
 * so callers not answered by a fetch within `graceMs` get the look-up as well (ListOffsets), whichever answers first.
 * Measured at 1,000 records/s: the look-ups, one after another while stream records kept arriving, took 41 of 385
 * samples of the broker's Java CPU (Fetch 59); without them the broker used 5.3–5.8 s of CPU per 10 s instead of
 * 6.3–7.5 s.
 */
export class FetchedEndOffsets implements EndOffsetsSource {
  private latest?: { sentAt: number; ends: Map<string, bigint> };
  private waiting: Waiter[] = [];
  private timer?: NodeJS.Timeout;

  /**
   * `lookUp` is the fallback source; `required()` the "topic:partition" keys an answer must hold (the table
   * partitions this instance decides for): a fetch that lacks one (not fetched: paused, being reset) answers no one.
   */
  constructor(private readonly lookUp: EndOffsetsSource, private readonly graceMs: number, private readonly required: () => Iterable<string>) {}

  /** A fetch sent at monotonic time `sentAt` was answered with these end offsets ("topic:partition" → last stable offset). */
  observe(sentAt: number, ends: Map<string, bigint>): void {
    for (const key of this.required()) if (!ends.has(key)) return;
    if (!this.latest || sentAt >= this.latest.sentAt) this.latest = { sentAt, ends };
    const still: Waiter[] = [];
    for (const w of this.waiting) {
      if (w.t <= sentAt) w.resolve(ends);
      else still.push(w);
    }
    this.waiting = still;
    if (!still.length) this.clearTimer();
  }

  after(t: number): Promise<Map<string, bigint>> {
    const latest = this.latest;
    if (latest && latest.sentAt >= t) return Promise.resolve(latest.ends);
    return new Promise((resolve, reject) => {
      this.waiting.push({ t, resolve, reject });
      this.timer ??= setTimeout(() => this.fallBack(), this.graceMs);
    });
  }

  /** Stops the grace timer (the instance is stopping). Callers still waiting get their answer from a fetch or never. */
  close(): void {
    this.clearTimer();
  }

  /** The callers waiting now get a look-up too (it starts after each of their `t`); the first answer wins. */
  private fallBack(): void {
    this.timer = undefined;
    const batch = this.waiting;
    if (!batch.length) return;
    let t = -Infinity;
    for (const w of batch) t = Math.max(t, w.t);
    const settle = (answer: (w: Waiter) => void) => {
      const done = new Set(batch);
      this.waiting = this.waiting.filter((w) => !done.has(w));
      for (const w of batch) answer(w);
    };
    this.lookUp.after(t).then((ends) => settle((w) => w.resolve(ends)), (err) => settle((w) => w.reject(err)));
  }

  private clearTimer(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }
}
