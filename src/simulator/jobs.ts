import { badRequest, fail, notFound, ok, type Outcome } from './errors.ts';
import { decodeCursor, encodeCursor } from './paging.ts';
import type { Clock } from './types.ts';

export interface Job<R, M> {
  id: string;
  meta: M;
  submitted: number;
  dueAt: number;
  expiresAt: number;
  /** The result set, frozen once the job completes so that saved cursors stay valid. */
  results?: R[];
  completed?: number;
}

export interface JobStoreDeps {
  clock: Clock;
  newId: () => string;
  delayMs: number;
  ttlMs: number;
  /** Runs `fn` after `ms` of real time; the store settles due jobs then, and again whenever one is read. */
  schedule: (ms: number, fn: () => void) => void;
}

/** Asynchronous queries (analytics detail jobs, audit queries): pending for `delayMs`, then complete with a frozen result set. */
export class JobStore<R, M> {
  private readonly jobs = new Map<string, Job<R, M> & { compute: () => R[] }>();
  constructor(private readonly deps: JobStoreDeps) {}

  submit(meta: M, compute: () => R[]): Job<R, M> {
    const now = this.deps.clock();
    const job = { id: this.deps.newId(), meta, submitted: now, dueAt: now + this.deps.delayMs, expiresAt: now + this.deps.ttlMs, compute };
    this.jobs.set(job.id, job);
    this.deps.schedule(this.deps.delayMs, () => this.settle(job.id));
    this.deps.schedule(this.deps.ttlMs, () => this.get(job.id));
    return job;
  }

  /** The job, or undefined if it never existed, was deleted or has expired. */
  get(id: string): Job<R, M> | undefined {
    const job = this.jobs.get(id);
    if (!job) return undefined;
    if (this.deps.clock() >= job.expiresAt) {
      this.jobs.delete(id);
      return undefined;
    }
    this.settle(id);
    return job;
  }

  delete(id: string): boolean {
    return this.get(id) !== undefined && this.jobs.delete(id);
  }

  /** One page of a completed job's results; `cursor` is absent on the last page. */
  page(id: string, cursor: string | null, pageSize: number): Outcome<{ items: R[]; cursor?: string; job: Job<R, M> }> {
    const job = this.get(id);
    if (!job) return fail(notFound(`Job ${id} not found`));
    if (!job.results) return fail(badRequest(`Job ${id} has not completed yet`, 'job.not.complete'));
    const offset = decodeCursor(id, cursor);
    if (!offset.ok) return offset;
    const end = offset.value + pageSize;
    const items = job.results.slice(offset.value, end);
    return ok({ items, job, ...(end < job.results.length ? { cursor: encodeCursor(id, end) } : {}) });
  }

  private settle(id: string): void {
    const job = this.jobs.get(id);
    if (!job || job.results || this.deps.clock() < job.dueAt) return;
    job.results = job.compute();
    job.completed = this.deps.clock();
  }
}
