// The pipeline's own commands: topics apply, describe, run, and the worker processes run starts.
import { resolve } from 'node:path';
import { createKafka } from '../adapters/kafka.ts';
import { createLogger } from '../adapters/logger.ts';
import { applyTopology, createPipeline, loadDefinitions, PROJECT_ROOT, systemClock } from '../app.ts';
import { ConfigSchema, type Config } from '../config.ts';
import { HealthMonitor, startOpsServer } from '../ops.ts';
import { metricsForLog } from '../runtime/engine.ts';
import { series } from '../runtime/metrics.ts';
import { DecisionHistory, statusModel } from '../statusPage.ts';
import { describeTopology, generationTopic, loadPolicy } from '../runtime/topology.ts';
import { loadTopology } from '../topology.ts';
import { reportToPool, WorkerPool, workerCount } from '../workers.ts';
// The connectors (and the Genesys SDK) are imported when `run` starts them: a worker process loads only the engine.
type Connectors = Awaited<ReturnType<typeof import('../connectors/index.ts').startConnectors>>;

export async function topicsApply(cfg: Config): Promise<void> {
  const { topology, policy } = loadDefinitions(cfg);
  const kafka = createKafka(cfg.kafka, createLogger(cfg.logLevel));
  const admin = kafka.admin();
  await admin.connect();
  try {
    const r = await applyTopology(admin, topology, { sinkGeneration: policy.generation });
    for (const t of topology.topics.values()) {
      const name = t.generations ? generationTopic(t, policy.generation) : t.name;
      const what = r.created.includes(name) ? 'created' : r.updated.includes(name) ? 'updated' : 'unchanged';
      console.log(`${what.padEnd(9)} ${name} (${t.partitions} partitions)`);
    }
  } finally {
    await admin.disconnect();
  }
}

export function describe(): void {
  const base = ConfigSchema.shape;
  const prefix = process.env.CONSENTGATE_TOPIC_PREFIX ?? '';
  const topology = loadTopology(resolve(PROJECT_ROOT, base.topologyFile.parse(undefined)), prefix);
  console.log(describeTopology(topology, loadPolicy(resolve(PROJECT_ROOT, base.policyFile.parse(undefined)), topology)));
}

/**
 * `consentgate run`: the engine in `workers` processes (one per CPU by default) under a supervisor that also runs
 * the connectors; with one worker, everything runs in this process.
 */
export async function run(cfg: Config, requested: number | undefined): Promise<void> {
  const logger = createLogger(cfg.logLevel);
  const { workers, why } = workerCount(cfg, loadDefinitions(cfg).policy, requested); // CONFIG_INVALID: exit 2
  if (why) logger.info({ workers }, `one worker: ${why}`);
  const pipeline = await createPipeline(cfg, logger, systemClock, { waitForRegistry: true });
  await applyTopology(pipeline.admin, pipeline.topology, { sinkGeneration: pipeline.policy.generation });
  const pool = workers > 1 ? new WorkerPool({ workers, env: process.env, logger }) : undefined;
  const engine = () => pool ?? pipeline.engine;
  let connectors: Connectors | undefined;
  let stopOps: (() => Promise<void>) | undefined;
  let stopping = false;
  const stop = async (code: number) => {
    if (stopping) return;
    stopping = true;
    logger.info('shutting down: stopping connectors, finishing in-flight transactions');
    await connectors?.stop();
    await pool?.stop();
    await pipeline.stop();
    await stopOps?.(); // last: until then /readyz answers 503, shutting down
    logger.info(metricsForLog(engine().metrics), 'stopped');
    process.exit(code);
  };
  pipeline.engine.on('error', () => void stop(1));
  process.on('SIGTERM', () => void stop(0));
  process.on('SIGINT', () => void stop(0));
  if (pool) pool.start();
  else await pipeline.engine.start();
  const { checkRegistry } = await import('../adapters/preflight.ts');
  const health = new HealthMonitor({
    checks: [
      { name: 'kafka', probe: async () => void (await pipeline.admin.describeCluster()) },
      { name: 'schemaRegistry', probe: () => checkRegistry(cfg.schemaRegistry, 5000) },
    ],
    // Ready: every task restored and running, the connectors connected, and not shutting down.
    engine: () => {
      const { ready, metrics } = engine();
      const c = connectors?.readiness() ?? (cfg.connectors.length ? { ready: false, detail: 'the connectors are starting' } : { ready: true });
      const running = stopping ? 'shutting down' : ready ? 'every task running' : 'joining the group or restoring';
      const detail = [pool ? `${pool.pids.size} of ${workers} worker processes up, ${running}` : running, c.detail].filter(Boolean).join('; ');
      return { ready: ready && c.ready && !stopping, detail, partitions: metrics.assignedPartitions };
    },
  });
  health.start();
  const { PrometheusExporter } = await import('../adapters/prometheus.ts');
  const exporter = new PrometheusExporter(pool ? { worker: 'supervisor' } : {});
  /** What this process adds to the engine's metrics: its connectors and its worker pool. */
  const extra = () => {
    const c = connectors?.metrics() ?? { counters: {}, gauges: {} };
    const gauges: Record<string, number> = { ...c.gauges, [series('consentgate_workers')]: pool ? pool.pids.size : 1 };
    for (const m of pool?.memory ?? []) gauges[series('consentgate_worker_resident_memory_bytes', { worker: m.worker })] = m.rssBytes;
    return { counters: { ...c.counters, [series('consentgate_worker_restarts_total')]: pool?.restarts ?? 0 }, gauges };
  };
  const history = new DecisionHistory();
  history.sample(engine().metrics.counters, Date.now());
  const sampling = setInterval(() => history.sample(engine().metrics.counters, Date.now()), history.intervalMs).unref();
  const metrics = async () => ({ contentType: exporter.contentType, body: await exporter.render(engine().metrics, extra(), pool?.processMetrics) });
  const status = () => {
    const { ready, engine: e } = health.report();
    return statusModel({ metrics: engine().metrics, ...extra(), group: pipeline.engine.groupId, ready, detail: e.detail, history, now: Date.now() });
  };
  const ops = await startOpsServer({ ...cfg.ops, health, metrics, status });
  stopOps = async () => {
    clearInterval(sampling);
    health.stop();
    await ops.stop();
  };
  logger.info({ groupId: pipeline.engine.groupId, policy: pipeline.policy.version, workers, ops: ops.url }, 'pipeline running');
  // A retired generation's topics take no more writes: its policy may not run. Checked once the topics have settled
  // (instances starting together create them at once); a log that cannot be read is no reason to stop.
  void (async () => {
    const { liveGeneration, readGenerations, retiredProblem } = await import('../replay.ts');
    const log = await readGenerations(pipeline);
    const retired = retiredProblem(log, pipeline.policy, liveGeneration({ configured: pipeline.policy, topology: pipeline.topology }, log).policy);
    if (!retired) return;
    console.error(`consentgate: [CONFIG_INVALID] ${retired}`);
    await stop(2);
  })().catch((err: Error) => logger.warn({ err: err.message }, 'policy.generations could not be read to check the configured generation'));
  const { kafka, topology, serdes } = pipeline;
  const { startConnectors } = await import('../connectors/index.ts');
  connectors = await startConnectors({ config: cfg, kafka, topology, serdes, clock: systemClock, logger, keyStore: pipeline.keyStore, health: () => health.report() });
  if (cfg.connectors.length) logger.info({ connectors: cfg.connectors }, 'connectors running');
  setInterval(() => logger.info({ pipeline: metricsForLog(engine().metrics), held: engine().heldRecords, connectors: connectors?.stats() }, 'progress'), 30_000).unref();
}

/** `consentgate worker` (started by `run`, not by hand): the engine alone, reporting to its pool. */
export async function worker(cfg: Config): Promise<void> {
  const logger = createLogger(cfg.logLevel).child({ worker: Number(process.env.CONSENTGATE_WORKER_ID ?? 0) });
  const pipeline = await createPipeline(cfg, logger, systemClock, { waitForRegistry: true });
  const stop = async (code: number) => {
    await pipeline.stop();
    process.exit(code);
  };
  pipeline.engine.on('error', () => void stop(1));
  process.on('SIGTERM', () => void stop(0));
  process.on('disconnect', () => void stop(0)); // the supervisor is gone
  await pipeline.engine.start();
  const { workerProcessMetrics } = await import('../adapters/prometheus.ts');
  reportToPool(() => ({ metrics: pipeline.engine.metrics, heldRecords: pipeline.engine.heldRecords, ready: pipeline.engine.ready }), workerProcessMetrics(Number(process.env.CONSENTGATE_WORKER_ID ?? 0)));
}
