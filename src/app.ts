import { resolve } from 'node:path';
import { applyTopics, createKafka, type Admin, type Kafka } from './adapters/kafka.ts';
import { createFieldTransforms, NO_KEY_TRANSFORMS } from './adapters/fieldCrypto.ts';
import type { Logger } from './adapters/logger.ts';
import { registerSchemas, type SerdeRegistry } from './adapters/schemaRegistry.ts';
import { ConfigSchema, type Config } from './config.ts';
import { PROJECT_ROOT } from './paths.ts';
import type { Clock } from './domain/clock.ts';
import { shreddingSinks, type Policy } from './domain/policy.ts';
import { openKeyStore, type KeyStore } from './adapters/keyStore.ts';
import { AnalyticsDb } from './adapters/analyticsDb.ts';
import { openDb } from './adapters/postgres.ts';
import { shredSeal } from './adapters/shredding.ts';
import { ConsentgateError } from './errors.ts';
import type { Vendor } from './domain/purge.ts';
import { Engine } from './runtime/engine.ts';
import { generationTopic, loadPolicy, loadVendors, parsePolicy, type Topology } from './runtime/topology.ts';
import { loadTopology, type ConsentgateDeps } from './topology.ts';

export const systemClock: Clock = { now: () => Date.now() };

export { PROJECT_ROOT };

export function loadDefinitions(config: Pick<Config, 'topologyFile' | 'policyFile' | 'vendorsFile' | 'topicPrefix'>): { topology: Topology<ConsentgateDeps>; policy: Policy; vendors: Vendor[] } {
  const topology = loadTopology(resolve(PROJECT_ROOT, config.topologyFile), config.topicPrefix);
  const policy = loadPolicy(resolve(PROJECT_ROOT, config.policyFile), topology);
  const vendors = loadVendors(resolve(PROJECT_ROOT, config.vendorsFile), topology);
  return { topology, policy, vendors };
}

/**
 * What running the pipeline needs beyond a valid configuration: the field key when the policy pseudonymizes or
 * encrypts fields, the master key when it crypto-shreds them. Only the pipeline needs them (`topics apply`, `export`, `erase` do not). Without a config (it did
 * not validate) the policy is the default one and the key is looked for in the environment, so that a command can
 * list this problem with the others at once.
 */
export function pipelineProblems(config: Config | undefined, env: NodeJS.ProcessEnv = process.env): string[] {
  const defaults = ConfigSchema.shape;
  const files = config ?? { topologyFile: defaults.topologyFile.parse(undefined), policyFile: defaults.policyFile.parse(undefined), vendorsFile: defaults.vendorsFile.parse(undefined), topicPrefix: '' };
  let policy: Policy;
  try {
    policy = loadDefinitions(files).policy;
  } catch (err) {
    return [`policyFile: ${(err as Error).message}`];
  }
  return missingKeys(policy, config ?? { fieldKey: env.CONSENTGATE_FIELD_KEY, masterKey: env.CONSENTGATE_MASTER_KEY });
}

/** The keys `policy` needs that `keys` lacks: the field key to pseudonymize or encrypt, the master key to shred. */
export function missingKeys(policy: Policy, keys: Pick<Config, 'fieldKey' | 'masterKey'>): string[] {
  const keyed = policy.sinks.some((s) => [s.defaultAction, ...Object.values(s.fields)].some((a) => a === 'pseudonymize' || a === 'encrypt'));
  return [
    ...(keyed && !keys.fieldKey ? [`fieldKey: required: policy ${policy.version} pseudonymizes or encrypts fields: set CONSENTGATE_FIELD_KEY (64 hex characters)`] : []),
    ...(shreddingSinks(policy).length && !keys.masterKey ? [`masterKey: required: policy ${policy.version} crypto-shreds fields: set CONSENTGATE_MASTER_KEY (64 hex characters; it wraps the data keys in the key store)`] : []),
  ];
}

/** The key store of crypto-shredded fields: PostgreSQL at DATABASE_URL, else an embedded PGlite (its directory relative to the working directory). */
export function openConfiguredKeyStore(config: Config): Promise<KeyStore> {
  if (!config.masterKey) {
    throw new ConsentgateError('CONFIG_INVALID', `the key store of crypto-shredded fields needs CONSENTGATE_MASTER_KEY (64 hex characters), and DATABASE_URL (else an embedded PGlite in ${config.keyStoreDir})`);
  }
  return openKeyStore({ databaseUrl: config.databaseUrl, dataDir: resolve(config.keyStoreDir), masterKey: Buffer.from(config.masterKey, 'hex'), schema: config.keyStoreSchema });
}

/** The consent-aware analytics store: PostgreSQL at DATABASE_URL, else an embedded PGlite in CONSENTGATE_ANALYTICS_DIR. */
export function openAnalyticsStore(config: Config, policy: Policy): AnalyticsDb {
  const db = openDb({ databaseUrl: config.databaseUrl, dataDir: resolve(config.analytics.dir) });
  return new AnalyticsDb(db, { schema: config.analytics.schema, readerRole: config.analytics.readerRole }, policy);
}

/** Serdes of every topic of the topology, their schemas (from schemas/) registered under `<topic>-value`. */
export function topologySerdes(config: Config, topology: Topology, waitWhileUnavailable?: (message: string) => void): Promise<SerdeRegistry> {
  return registerSchemas({ ...config.schemaRegistry, schemasDir: resolve(PROJECT_ROOT, 'schemas'), topology, waitWhileUnavailable });
}

/** Creates the topology's missing topics (idempotent) with an admin client of its own, for commands and tools. */
export async function ensureTopics(kafka: Kafka, topology: Topology): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    await applyTopology(admin, topology);
  } finally {
    await admin.disconnect();
  }
}

/**
 * Creates the topology's missing topics and aligns their configs. A per-generation topic (a sink) is applied under
 * its name for `sinkGeneration` (default 1); null leaves them alone (a retired generation's deleted topics stay deleted).
 */
export async function applyTopology(admin: Admin, topology: Topology, o: { sinkGeneration?: number | null } = {}) {
  const generation = o.sinkGeneration === undefined ? 1 : o.sinkGeneration;
  const topics = [...topology.topics.values()].filter((t) => !t.generations || generation !== null);
  return applyTopics(admin, topics.map((t) => ({ name: t.generations ? generationTopic(t, generation!) : t.name, partitions: t.partitions, config: t.config })));
}

export interface Pipeline {
  kafka: Kafka;
  admin: Admin;
  topology: Topology;
  policy: Policy;
  serdes: SerdeRegistry;
  engine: Engine;
  /** Open when the policy crypto-shreds fields. */
  keyStore?: KeyStore;
  stop(): Promise<void>;
}

/**
 * Composition root of the consent-table + enforcement topology: wires config, adapters, processors and runtime.
 * `waitForRegistry` (run, worker): a registry that cannot be reached is waited for, not a reason to exit.
 */
export async function createPipeline(config: Config, logger: Logger, clock: Clock = systemClock, opts: { waitForRegistry?: boolean } = {}): Promise<Pipeline> {
  const { topology, policy, vendors } = loadDefinitions(config);
  const problems = missingKeys(policy, config);
  if (problems.length) throw new ConsentgateError('CONFIG_INVALID', problems.join('; '));
  const kafka = createKafka(config.kafka, logger);
  const admin = kafka.admin();
  await admin.connect();
  const serdes = await topologySerdes(config, topology, opts.waitForRegistry ? (m) => logger.warn(`schema registry unavailable: ${m}`) : undefined);
  const transforms = config.fieldKey ? createFieldTransforms(config.fieldKey) : NO_KEY_TRANSFORMS;
  const keyStore = shreddingSinks(policy).length ? await openConfiguredKeyStore(config) : undefined;
  const shredKeys = keyStore && { ensureKeys: (r: Parameters<KeyStore['ensureKeys']>[0]) => keyStore.ensureKeys(r), seal: shredSeal };

  const engine = new Engine({
    kafka,
    admin,
    topology,
    serdes,
    clock,
    logger,
    consentWaitMs: config.consentWaitMs,
    maxHoldMs: config.maxHoldMs,
    commitIntervalMs: config.commitIntervalMs,
    maxBatchRecords: config.maxBatchRecords,
    sessionTimeoutMs: config.sessionTimeoutMs,
    deps: {
      policy, vendors, transforms, shredKeys, sessionDisconnectAfterMs: config.sessionDisconnectAfterMs,
      // A later generation must be runnable by this process too: its keys configured, a key store open if it shreds.
      parsePolicy: (text, where) => {
        const p = parsePolicy(text, where, topology);
        const missing = [...missingKeys(p, config), ...(shreddingSinks(p).length && !keyStore ? [`policy ${p.version} crypto-shreds fields, but the running pipeline (policy ${policy.version}) opened no key store: restart it with the new policy file`] : [])];
        if (missing.length) throw new Error(`${where}: ${missing.join('; ')}`);
        return p;
      },
    },
  });
  return {
    kafka,
    admin,
    topology,
    policy,
    serdes,
    engine,
    keyStore,
    async stop() {
      await engine.stop();
      await admin.disconnect().catch(() => {});
      await keyStore?.close().catch(() => {});
    },
  };
}
