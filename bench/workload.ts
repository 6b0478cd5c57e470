// The bench's workload: customers with consent applied first, conversation records of them, and helpers to
// produce them and to run the pipeline in this process or in worker processes on topics of their own.
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { openProducer, type OutRecord } from '../src/adapters/kafka.ts';
import { createLogger } from '../src/adapters/logger.ts';
import type { Pipeline } from '../src/app.ts';
import { startEphemeralPipeline } from '../src/cli/ephemeralPipeline.ts';
import { conversationRecord } from '../src/demo/traffic.ts';
import type { ConsentEvent } from '../src/domain/types.ts';
import type { EngineMetrics } from '../src/runtime/engine.ts';
import { mulberry32 } from '../src/simulator/ids.ts';
import { WorkerPool } from '../src/workers.ts';

export const CUSTOMERS = Array.from({ length: 1000 }, (_, i) => `bc-${i}`);
const rand = mulberry32(7);

export const rate = (n: number, ms: number) => Math.round((n / ms) * 1000);
export const pct = (xs: number[], p: number) => (xs.length ? xs.slice().sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]! : NaN);
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A consent event granting MARKETING to 2/3, ANALYTICS to all and THIRD_PARTY to half of the customers. */
export function consentEvent(customerId: string, i: number, purposes?: ConsentEvent['purposes']): ConsentEvent {
  return {
    eventId: randomUUID(), customerId, capturedAt: Date.now(), source: 'IMPORT',
    purposes: purposes ?? [
      { purpose: 'MARKETING', granted: i % 3 !== 0, channel: null },
      { purpose: 'ANALYTICS', granted: true, channel: null },
      { purpose: 'THIRD_PARTY', granted: i % 2 === 0, channel: null },
    ],
  };
}

/** Encoded conversation records of CUSTOMERS (record ids from `first`), for `topic`. */
export function conversationRecords(p: Pipeline, first: number, n: number, customers = CUSTOMERS): OutRecord[] {
  const serde = p.serdes.forTopic('genesys.conversations');
  const topic = p.topology.topic('genesys.conversations').name;
  return Array.from({ length: n }, (_, k) => {
    const c = customers[(first + k) % customers.length]!;
    return { topic, key: c, value: serde.encode(conversationRecord(rand, first + k, c, Date.now())) };
  });
}

/** A fresh record of a watched customer (its decisions are decoded by the latency watcher). */
export function watchedRecord(p: Pipeline, customerId: string): { recordId: string; out: OutRecord } {
  const recordId = `w-${randomUUID()}`;
  const value = p.serdes.forTopic('genesys.conversations').encode({ ...conversationRecord(rand, 0, customerId, Date.now()), recordId });
  return { recordId, out: { topic: p.topology.topic('genesys.conversations').name, key: customerId, value } };
}

/** Produces `records` in chunks of 1,000 with up to 8 requests in flight; resolves the time taken. */
export async function produceAll(p: Pipeline, records: OutRecord[]): Promise<number> {
  const producer = await openProducer(p.kafka);
  const t0 = performance.now();
  const inflight: Promise<void>[] = [];
  for (let i = 0; i < records.length; i += 1000) {
    inflight.push(producer.send(records.slice(i, i + 1000)));
    if (inflight.length >= 8) await inflight.shift();
  }
  await Promise.all(inflight);
  const ms = performance.now() - t0;
  await producer.close();
  return ms;
}

export async function grantConsent(p: Pipeline, customers: string[]): Promise<void> {
  const serde = p.serdes.forTopic<ConsentEvent>('consent.events');
  const topic = p.topology.topic('consent.events').name;
  await produceAll(p, customers.map((c, i) => ({ topic, key: c, value: serde.encode(consentEvent(c, i)) })));
}

/**
 * Deletes the topics whose names start with `prefix`: each section's topics go when it ends, so that the next
 * section does not run beside their partitions and data (a broker with a thousand leftover topics spends a third of
 * a core on them even when idle).
 */
export async function dropTopics(p: Pipeline, prefix: string): Promise<void> {
  const admin = p.kafka.admin();
  await admin.connect();
  const topics = (await admin.listTopics()).filter((t) => t.startsWith(prefix));
  if (topics.length) await admin.deleteTopics({ topics });
  await admin.disconnect();
}

/** The engine under measurement: `workers` compiled worker processes (as `consentgate run`), or this process (see `BenchStack.run`). */
export interface Runner {
  readonly metrics: EngineMetrics;
  /** The engine runs (a worker process has booted and reported), restoring or ready. */
  readonly started: boolean;
  readonly ready: boolean;
  /** Peak RSS of the process(es) running the engine, in bytes (the largest worker's for several). */
  maxRssBytes(): number;
  /** CPU time the engine's processes have used, in µs (as last reported, a few times a second). */
  cpuMicros(): number;
  /** Resident set size and V8 heap in use now, per process running the engine (the bench's own without workers). */
  memory(): { rssBytes: number; heapUsedBytes: number }[];
  stop(): Promise<void>;
}

export interface BenchStack {
  env: Record<string, string>;
  /** A pipeline on fresh topics (created, schemas registered); its engine is not started. */
  pipeline(): Promise<Pipeline>;
  /** The settings a command needs to work on a pipeline's topics (its prefix and key-store schema). */
  envOf(p: Pipeline): Record<string, string>;
  /** The key-store schema of a new pipeline (PostgreSQL only): one per pipeline, dropped by `cleanup`. */
  keyStoreSchema(): Record<string, string>;
  cleanup(): Promise<void>;
  /**
   * Starts the engine for the pipeline's topics in `workers` worker processes — or, with an embedded PGlite key
   * store (no DATABASE_URL), which two processes cannot share, in this process (then run by tsx, not compiled).
   */
  run(p: Pipeline, workers: number): Promise<Runner>;
}

export function benchStack(env: Record<string, string>): BenchStack {
  const schemas = new Map<Pipeline, Record<string, string>>();
  const prefixes = new Map<Pipeline, string>();
  const created: string[] = [];
  const stack: BenchStack = {
    env,
    keyStoreSchema(): Record<string, string> {
      if (!env.DATABASE_URL) return {};
      const schema = `ks_bench_${randomUUID().slice(0, 8)}`;
      created.push(schema);
      return { CONSENTGATE_KEYSTORE_SCHEMA: schema };
    },
    envOf(p) {
      return { ...env, CONSENTGATE_TOPIC_PREFIX: prefixes.get(p)!, ...schemas.get(p) };
    },
    async cleanup() {
      if (!env.DATABASE_URL || created.length === 0) return;
      const db = new pg.Client({ connectionString: env.DATABASE_URL });
      await db.connect();
      for (const s of created) await db.query(`DROP SCHEMA IF EXISTS "${s}" CASCADE`);
      await db.end();
    },
    async pipeline() {
      const topicPrefix = `bench-${randomUUID().slice(0, 8)}.`;
      const keys = stack.keyStoreSchema();
      const { pipeline } = await startEphemeralPipeline({ name: 'bench', topicPrefix, log: () => {}, env: { ...env, ...keys } });
      prefixes.set(pipeline, topicPrefix);
      schemas.set(pipeline, keys);
      return pipeline;
    },
    async run(p, workers) {
      if (!env.DATABASE_URL) {
        await p.engine.start();
        const usage = () => process.resourceUsage();
        return {
          get metrics() { return p.engine.metrics; }, started: true, get ready() { return p.engine.ready; },
          maxRssBytes: () => usage().maxRSS * 1024, cpuMicros: () => usage().userCPUTime + usage().systemCPUTime,
          memory: () => [{ rssBytes: process.memoryUsage().rss, heapUsedBytes: process.memoryUsage().heapUsed }],
          async stop() { await p.stop(); await dropTopics(p, prefixes.get(p)!); },
        };
      }
      const prefix = prefixes.get(p)!;
      const pool = new WorkerPool({
        workers,
        env: { ...process.env, ...env, CONSENTGATE_TOPIC_PREFIX: prefix, ...schemas.get(p) },
        logger: createLogger('warn'),
      });
      pool.start();
      return {
        get metrics() { return pool.metrics; }, get started() { return pool.reporting; }, get ready() { return pool.ready; },
        maxRssBytes: () => pool.maxRssBytes, cpuMicros: () => pool.cpuMicros, memory: () => pool.memory,
        async stop() { await pool.stop(); await p.stop(); await dropTopics(p, prefix); },
      };
    },
  };
  return stack;
}
