import { fork, type ChildProcess } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { resolve } from 'node:path';
import type { Logger } from './adapters/logger.ts';
import { PROJECT_ROOT } from './app.ts';
import type { Config } from './config.ts';
import { shreddingSinks, type Policy } from './domain/policy.ts';
import { ConsentgateError } from './errors.ts';
import type { EngineMetrics } from './runtime/engine.ts';
import { addHistograms } from './runtime/histogram.ts';

/** What a worker reports to its pool, a few times a second. */
export interface WorkerReport {
  type: 'metrics';
  metrics: EngineMetrics;
  heldRecords: number;
  ready: boolean;
  /** Peak resident set size of the worker process, in bytes. */
  maxRssBytes: number;
  /** Its resident set size and V8 heap in use now, in bytes (the soak bench follows them over time). */
  rssBytes: number;
  heapUsedBytes: number;
  /** CPU time the worker process has used (user + system), in µs. */
  cpuMicros: number;
  /** Its Node.js and process metrics (prom-client's JSON), every PROCESS_METRICS_EVERY-th report. */
  process?: unknown[];
}

const REPORT_EVERY_MS = 250;
/** Every 20th report (5 s) carries the worker's process metrics: a Prometheus scrape interval is 15 s or more. */
const PROCESS_METRICS_EVERY = 20;
/**
 * A young generation of up to 3 × 32 MB (Node's default: 3 × 16): a cycle's records, decoded and re-encoded, then
 * die young instead of being promoted. Measured with `npm run bench`: ~10% less CPU per record, and a 1M-entry
 * restore peaking lower (366–385 MB instead of 405–437).
 */
const WORKER_V8_FLAGS = ['--max-semi-space-size=32'];
const RESTART_DELAY_MS = { first: 500, max: 30_000 };

/**
 * How many worker processes `consentgate run` starts: `requested` (--workers / CONSENTGATE_WORKERS), else one per
 * CPU. Several processes cannot share an embedded PGlite key store, so a policy that crypto-shreds needs
 * DATABASE_URL for more than one; without it the default is one worker and an explicit request is an error.
 */
export function workerCount(config: Config, policy: Policy, requested = config.workers): { workers: number; why?: string } {
  const embeddedKeyStore = shreddingSinks(policy).length > 0 && !config.databaseUrl;
  if (!embeddedKeyStore) return { workers: requested ?? availableParallelism() };
  if (requested !== undefined && requested > 1) {
    throw new ConsentgateError('CONFIG_INVALID', `--workers ${requested}: worker processes cannot share the embedded key store (PGlite); set DATABASE_URL to a PostgreSQL server, or run one worker`);
  }
  return { workers: 1, why: 'the policy crypto-shreds and the key store is an embedded PGlite (set DATABASE_URL for more workers)' };
}

/**
 * Supervises `consentgate worker` processes: each runs the engine with its own tasks in the same consumer group,
 * so the co-partitioning assignor spreads partitions over them and each task keeps its transactional producer and
 * fencing. A worker that dies is restarted (after 0.5 s, doubling while it keeps dying, at most 30 s); its
 * partitions move to the others once the group notices. `metrics` sums what the workers last reported.
 */
export class WorkerPool {
  private readonly children = new Map<number, ChildProcess>();
  private readonly reports = new Map<number, WorkerReport>();
  private readonly crashes = new Map<number, number>();
  private readonly pendingRestarts = new Set<NodeJS.Timeout>();
  private stopping = false;
  /** Workers restarted after dying. */
  restarts = 0;

  constructor(private readonly o: { workers: number; env: NodeJS.ProcessEnv; logger: Logger }) {}

  start(): void {
    for (let i = 0; i < this.o.workers; i++) this.spawn(i);
  }

  /** Process ids of the running workers, by worker number. */
  get pids(): Map<number, number> {
    return new Map([...this.children].filter(([, c]) => c.pid !== undefined).map(([i, c]) => [i, c.pid!]));
  }

  /** True once every worker has reported (its engine started; its tasks may still restore). */
  get reporting(): boolean {
    return this.reports.size === this.o.workers;
  }

  /** True once every worker reports that all its tasks run. */
  get ready(): boolean {
    return this.reporting && [...this.reports.values()].every((r) => r.ready);
  }

  /** The largest peak RSS any worker reported. */
  get maxRssBytes(): number {
    return Math.max(0, ...[...this.reports.values()].map((r) => r.maxRssBytes));
  }

  /** Each worker's resident set size and V8 heap in use, as last reported, in bytes, by worker number. */
  get memory(): { worker: number; rssBytes: number; heapUsedBytes: number }[] {
    return [...this.reports].sort(([a], [b]) => a - b).map(([worker, r]) => ({ worker, rssBytes: r.rssBytes, heapUsedBytes: r.heapUsedBytes }));
  }

  /** Each worker's own process metrics (prom-client defaults, labelled worker="<n>"), as last reported. */
  get processMetrics(): unknown[][] {
    return [...this.reports.values()].flatMap((r) => (r.process ? [r.process] : []));
  }

  /** CPU time the workers have used, as last reported (a restarted worker's count starts again), in µs. */
  get cpuMicros(): number {
    return [...this.reports.values()].reduce((n, r) => n + r.cpuMicros, 0);
  }

  get heldRecords(): number {
    return [...this.reports.values()].reduce((n, r) => n + r.heldRecords, 0);
  }

  get metrics(): EngineMetrics {
    return [...this.reports.values()].map((r) => r.metrics).reduce(addMetrics, EMPTY_METRICS);
  }

  private spawn(i: number): void {
    const child = fork(resolve(PROJECT_ROOT, 'bin/consentgate.js'), ['worker'], {
      env: { ...this.o.env, CONSENTGATE_WORKER_ID: String(i) },
      // Ours unless this process was given its own (node --max-semi-space-size=… bin/consentgate.js run).
      execArgv: [...WORKER_V8_FLAGS.filter((f) => !process.execArgv.some((a) => a.startsWith(f.split('=')[0]!))), ...process.execArgv],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    this.children.set(i, child);
    // Counters of a restarted worker start again from zero; what its predecessor did stays counted. Its state
    // (partitions, gauges) is the new worker's alone.
    const before = this.reports.get(i)?.metrics;
    child.on('message', (m: WorkerReport) => {
      if (m?.type !== 'metrics') return;
      const process = m.process ?? this.reports.get(i)?.process;
      const metrics = before ? { ...addMetrics(before, m.metrics), assignedPartitions: m.metrics.assignedPartitions, gauges: m.metrics.gauges } : m.metrics;
      this.reports.set(i, { ...m, metrics, ...(process ? { process } : {}) });
    });
    child.on('exit', (code, signal) => {
      if (this.children.get(i) !== child) return;
      this.children.delete(i);
      if (this.stopping) return;
      const crashes = (this.crashes.get(i) ?? 0) + 1;
      this.crashes.set(i, crashes);
      const delay = Math.min(RESTART_DELAY_MS.max, RESTART_DELAY_MS.first * 2 ** (crashes - 1));
      this.o.logger.error({ worker: i, pid: child.pid, code, signal, restartInMs: delay }, 'worker exited; restarting it');
      const last = this.reports.get(i);
      if (last) this.reports.set(i, { ...last, ready: false, heldRecords: 0, metrics: { ...last.metrics, assignedPartitions: [], gauges: {} } });
      // Not unref'd: a supervisor whose workers all died must stay up to restart them.
      const timer = setTimeout(() => {
        this.pendingRestarts.delete(timer);
        this.restarts++;
        this.spawn(i);
      }, delay);
      this.pendingRestarts.add(timer);
    });
    // A worker that has run a minute without dying is healthy again: the next crash restarts it quickly.
    setTimeout(() => {
      if (this.children.get(i) === child) this.crashes.delete(i);
    }, 60_000).unref();
  }

  /** Asks every worker to finish its current transactions and leave the group, and waits until all have exited. */
  async stop(): Promise<void> {
    this.stopping = true;
    for (const t of this.pendingRestarts) clearTimeout(t);
    this.pendingRestarts.clear();
    await Promise.all([...this.children.values()].map((c) => new Promise<void>((res) => {
      if (c.exitCode !== null || c.signalCode !== null) return res();
      c.once('exit', () => res());
      c.kill('SIGTERM');
    })));
    this.children.clear();
  }
}

const EMPTY_METRICS: EngineMetrics = { committedTransactions: 0, processedRecords: 0, deadLettered: 0, held: 0, unconfirmed: 0, assignedPartitions: [], counters: {}, histograms: {}, gauges: {} };

/** Two workers' metrics as one: counters, histograms and gauges add up by series (a partition's lag is one worker's). */
function addMetrics(a: EngineMetrics, b: EngineMetrics): EngineMetrics {
  const sum = (x: Record<string, number>, y: Record<string, number>) => {
    const out = { ...x };
    for (const [k, n] of Object.entries(y)) out[k] = (out[k] ?? 0) + n;
    return out;
  };
  const histograms = { ...a.histograms };
  for (const [k, h] of Object.entries(b.histograms)) histograms[k] = histograms[k] ? addHistograms(histograms[k], h) : h;
  return {
    committedTransactions: a.committedTransactions + b.committedTransactions,
    processedRecords: a.processedRecords + b.processedRecords,
    deadLettered: a.deadLettered + b.deadLettered,
    held: a.held + b.held,
    unconfirmed: a.unconfirmed + b.unconfirmed,
    assignedPartitions: [...a.assignedPartitions, ...b.assignedPartitions].sort((x, y) => x - y),
    counters: sum(a.counters, b.counters),
    histograms,
    gauges: sum(a.gauges, b.gauges),
  };
}

/**
 * The worker side: reports the engine's metrics to the pool until the process ends, and every
 * PROCESS_METRICS_EVERY-th time its own process metrics (`processMetrics`, prom-client's JSON).
 */
export function reportToPool(
  metrics: () => Omit<WorkerReport, 'type' | 'maxRssBytes' | 'cpuMicros' | 'rssBytes' | 'heapUsedBytes' | 'process'>,
  processMetrics?: () => Promise<unknown[]>,
): void {
  if (!process.send) return;
  let reports = 0;
  let latest: unknown[] | undefined;
  const report = () => {
    // The pool may be gone (it stops us next): a report into a closed channel is dropped, never thrown.
    const usage = process.resourceUsage();
    const memory = process.memoryUsage();
    const withProcess = reports++ % PROCESS_METRICS_EVERY === 0;
    if (withProcess) processMetrics?.().then((m) => (latest = m), () => {});
    const message: WorkerReport = {
      type: 'metrics', ...metrics(), maxRssBytes: usage.maxRSS * 1024, cpuMicros: usage.userCPUTime + usage.systemCPUTime, rssBytes: memory.rss, heapUsedBytes: memory.heapUsed,
      ...(withProcess && latest ? { process: latest } : {}),
    };
    if (process.connected) process.send!(message, () => {});
  };
  const timer = setInterval(report, REPORT_EVERY_MS).unref();
  process.once('disconnect', () => clearInterval(timer));
}
