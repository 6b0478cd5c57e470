import { parseArgs } from 'node:util';
import { resolve } from 'node:path';
import { createKafka } from '../adapters/kafka.ts';
import { createLogger } from '../adapters/logger.ts';
import { applyTopology, createPipeline, loadDefinitions, PROJECT_ROOT } from '../app.ts';
import { ConfigSchema, loadConfig, type Config } from '../config.ts';
import { describeTopology, loadPolicy } from '../runtime/topology.ts';
import { loadTopology } from '../topology.ts';
import { systemClock } from '../app.ts';
import { reportToPool, WorkerPool, workerCount } from '../workers.ts';
// Each command's own modules (connectors and the Genesys SDK, the simulator, the DPIA engine, …) are imported when
// that command runs: a worker process or `--help` loads only what it uses.
type Connectors = Awaited<ReturnType<typeof import('../connectors/index.ts').startConnectors>>;

const HELP = `consentgate — enforce GDPR/CCPA consent inside Genesys Cloud CX event streams on Kafka

Usage: consentgate <command> [--config FILE]

Commands:
  dev up          start a local Apache Kafka (KRaft) and Apicurio schema registry in the background,
                  fetching their jars from Maven Central on first use; prints KAFKA_BROKERS=… and
                  SCHEMA_REGISTRY_URL=… lines (set -a; eval "$(consentgate dev up)"; set +a)
  dev down        stop them and delete their data
  topics apply    create missing topics and align topic configs with topologies/ (idempotent)
  describe        print the topology graph, topics, stores and the consent policy
  run [--workers N]
                  run the pipeline, and the connectors named in CONSENTGATE_CONNECTORS, until SIGTERM/SIGINT;
                  the engine runs in N supervised worker processes (default: one per CPU; one when the key
                  store is an embedded PGlite), a crashed worker is restarted and its partitions move
  export          bulk-export Genesys conversation details of an interval to genesys.exports, resumable
                  (consentgate export --help)
  erase <id>      erase a data subject: destroy its data keys, purge vendors, optionally Genesys GDPR_DELETE
                  (consentgate erase --help)
  decrypt         print a sink topic with crypto-shredded fields decrypted, erased ones null, for downstream
                  teams (consentgate decrypt --help)
  dpia assess|gate|approve|verify|drift
                  assess an OAuth client or integration (Genesys JSON, Terraform, payload samples) into a DPIA
                  artifact, gate a deployment on it, approve exceptions, verify the audit trail, detect drift
                  (consentgate dpia --help; no Kafka needed)
  simulate genesys
                  run a local Genesys Cloud simulator (OAuth, notifications WebSocket, REST, faults);
                  prints GENESYS_BASE_URL=…, GENESYS_CLIENT_ID=…, GENESYS_CLIENT_SECRET=… (see --help)
  demo            run the whole pipeline on simulated Genesys Cloud traffic and print a summary
                  (starts a local stack unless KAFKA_BROKERS is set)

Configuration (a JSON file via --config or CONSENTGATE_CONFIG, overridden by the environment):
  KAFKA_BROKERS, KAFKA_SSL, KAFKA_SASL_MECHANISM/USERNAME/PASSWORD, SCHEMA_REGISTRY_URL,
  CONSENTGATE_TOPIC_PREFIX, CONSENTGATE_FIELD_KEY (64 hex chars), LOG_LEVEL (default info),
  CONSENTGATE_WORKERS (as --workers).
  Read-your-revocation: CONSENTGATE_CONSENT_WAIT_MS (default 500) is how long one attempt waits for the consent
  table to catch up before its records are held (in order, undecided); CONSENTGATE_MAX_HOLD_MS (default 900000)
  is how long a record may be held before it is blocked CONSENT_UNCONFIRMED.
  Genesys: GENESYS_CLIENT_ID, GENESYS_CLIENT_SECRET, and GENESYS_REGION (e.g. mypurecloud.ie) or
  GENESYS_BASE_URL (the simulator); GENESYS_TOPICS, GENESYS_REQUESTS_PER_MINUTE (default 1500).
  Connectors: CONSENTGATE_CONNECTORS, a comma list of notifications, eventbridge-http, eventbridge-topic,
  consent-intake, writeback, integrations, session-executor, dpia (default none); CONSENTGATE_HTTP_HOST/PORT
  (127.0.0.1:8088) and CONSENTGATE_INTAKE_TOKEN for the HTTP intake.
  Session guard: CONSENTGATE_SESSION_DISCONNECT_AFTER_MS (default 30000), CONSENTGATE_SESSION_MAX_ATTEMPTS (5).
  Crypto-shredding key store: CONSENTGATE_MASTER_KEY (64 hex chars), DATABASE_URL (PostgreSQL; else an embedded
  PGlite in CONSENTGATE_KEYSTORE_DIR, default .cache/keystore), CONSENTGATE_KEYSTORE_SCHEMA (consentgate).
  A bad configuration fails at start and lists every problem.
`;

function fail(message: string, code = 2): never {
  console.error(message);
  process.exit(code);
}

function config(file: string | undefined): Config {
  const r = loadConfig({ file });
  if (!r.ok) fail(`invalid configuration:\n${r.problems.map((p) => `  - ${p}`).join('\n')}`);
  return r.config;
}

async function topicsApply(cfg: Config): Promise<void> {
  const { topology } = loadDefinitions(cfg);
  const kafka = createKafka(cfg.kafka, createLogger(cfg.logLevel));
  const admin = kafka.admin();
  await admin.connect();
  try {
    const r = await applyTopology(admin, topology);
    for (const t of topology.topics.values()) {
      const what = r.created.includes(t.name) ? 'created' : r.updated.includes(t.name) ? 'updated' : 'unchanged';
      console.log(`${what.padEnd(9)} ${t.name} (${t.partitions} partitions)`);
    }
  } finally {
    await admin.disconnect();
  }
}

function describe(): void {
  const base = ConfigSchema.shape;
  const prefix = process.env.CONSENTGATE_TOPIC_PREFIX ?? '';
  const topology = loadTopology(resolve(PROJECT_ROOT, base.topologyFile.parse(undefined)), prefix);
  console.log(describeTopology(topology, loadPolicy(resolve(PROJECT_ROOT, base.policyFile.parse(undefined)), topology)));
}

/**
 * `consentgate run`: the engine in `workers` processes (one per CPU by default) under a supervisor that also runs
 * the connectors; with one worker, everything runs in this process.
 */
async function run(cfg: Config, workersFlag: string | undefined): Promise<void> {
  const logger = createLogger(cfg.logLevel);
  const requested = workersFlag === undefined ? undefined : Number(workersFlag);
  if (requested !== undefined && !(Number.isInteger(requested) && requested >= 1 && requested <= 256)) fail(`--workers: expected a whole number from 1 to 256, got ${workersFlag}`);
  let plan: ReturnType<typeof workerCount>;
  try {
    plan = workerCount(cfg, loadDefinitions(cfg).policy, requested);
  } catch (err) {
    return fail(`consentgate: ${(err as Error).message}`);
  }
  const { workers, why } = plan;
  if (why) logger.info({ workers }, `one worker: ${why}`);
  const pipeline = await createPipeline(cfg, logger);
  await applyTopology(pipeline.admin, pipeline.topology);
  const pool = workers > 1 ? new WorkerPool({ workers, env: process.env, logger }) : undefined;
  const engine = () => pool ?? pipeline.engine;
  let connectors: Connectors | undefined;
  let stopping = false;
  const stop = async (code: number) => {
    if (stopping) return;
    stopping = true;
    logger.info('shutting down: stopping connectors, finishing in-flight transactions');
    await connectors?.stop();
    await pool?.stop();
    await pipeline.stop();
    logger.info(engine().metrics, 'stopped');
    process.exit(code);
  };
  pipeline.engine.on('error', () => void stop(1));
  process.on('SIGTERM', () => void stop(0));
  process.on('SIGINT', () => void stop(0));
  if (pool) pool.start();
  else await pipeline.engine.start();
  logger.info({ groupId: pipeline.engine.groupId, policy: pipeline.policy.version, workers }, 'pipeline running');
  const { kafka, topology, serdes } = pipeline;
  const { startConnectors } = await import('../connectors/index.ts');
  connectors = await startConnectors({ config: cfg, kafka, topology, serdes, clock: systemClock, logger, keyStore: pipeline.keyStore });
  if (cfg.connectors.length) logger.info({ connectors: cfg.connectors }, 'connectors running');
  setInterval(() => logger.info({ pipeline: engine().metrics, held: engine().heldRecords, connectors: connectors?.stats() }, 'progress'), 30_000).unref();
}

/** `consentgate worker` (started by `run`, not by hand): the engine alone, reporting to its pool. */
async function worker(cfg: Config): Promise<void> {
  const logger = createLogger(cfg.logLevel).child({ worker: Number(process.env.CONSENTGATE_WORKER_ID ?? 0) });
  const pipeline = await createPipeline(cfg, logger);
  const stop = async (code: number) => {
    await pipeline.stop();
    process.exit(code);
  };
  pipeline.engine.on('error', () => void stop(1));
  process.on('SIGTERM', () => void stop(0));
  process.on('disconnect', () => void stop(0)); // the supervisor is gone
  await pipeline.engine.start();
  reportToPool(() => ({ metrics: pipeline.engine.metrics, heldRecords: pipeline.engine.heldRecords, ready: pipeline.engine.ready }));
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  // Commands with options of their own parse the rest themselves.
  if (argv[0] === 'simulate') {
    if (argv[1] !== 'genesys') fail(`usage: consentgate simulate genesys [options] (consentgate simulate genesys --help)`);
    return (await import('./simulate.ts')).simulateGenesys(argv.slice(2));
  }
  type Command = [string, (argv: string[], load: typeof config) => Promise<void>];
  const withOptions: Record<string, () => Promise<Command>> = {
    export: async () => { const m = await import('./export.ts'); return [m.EXPORT_HELP, m.exportCommand]; },
    erase: async () => { const m = await import('./erase.ts'); return [m.ERASE_HELP, m.eraseCommand]; },
    decrypt: async () => { const m = await import('./decrypt.ts'); return [m.DECRYPT_HELP, m.decryptCommand]; },
    dpia: async () => { const m = await import('./dpia.ts'); return [m.DPIA_HELP, m.dpiaCommand]; },
  };
  const load = withOptions[argv[0] ?? ''];
  if (load) {
    const [help, command] = await load();
    if (argv.includes('--help') || argv.includes('-h')) return void console.log(help);
    return command(argv.slice(1), config);
  }
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { config: { type: 'string' }, workers: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
  });
  const [cmd, sub] = positionals;
  if (values.help || !cmd) {
    console.log(HELP);
    return;
  }
  switch (`${cmd}${sub ? ' ' + sub : ''}`) {
    case 'dev up':
      return (await import('./devStack.ts')).devUp();
    case 'dev down':
      return (await import('./devStack.ts')).devDown();
    case 'topics apply':
      return topicsApply(config(values.config));
    case 'describe':
      return describe();
    case 'run':
      return run(config(values.config), values.workers);
    case 'worker':
      return worker(config(values.config));
    case 'demo':
      return (await import('./demo.ts')).runDemo();
    default:
      fail(`unknown command: ${positionals.join(' ')}\n\n${HELP}`);
  }
}

main().catch((err: Error & { code?: string; exitCode?: number }) => fail(`consentgate: ${err.code ? `[${err.code}] ` : ''}${err.message}`, err.exitCode ?? 1));
