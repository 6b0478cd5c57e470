import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '../adapters/logger.ts';
import { checkKafka, checkRegistry } from '../adapters/preflight.ts';
import { applyTopology, createPipeline, systemClock, type Pipeline } from '../app.ts';
import { loadConfig, type Config } from '../config.ts';
import { startLocalStack, stopLocalStack } from '../devstack/localStack.ts';

/**
 * A pipeline on topics of its own, for the demo and the bench: against KAFKA_BROKERS/SCHEMA_REGISTRY_URL when set
 * and answering, otherwise against a local stack started for this process; a random field key and warn-level logs unless set.
 * `stop` stops the pipeline and whatever was started for it; `stopStack` only the latter.
 */
export async function startEphemeralPipeline(opts: { name: string; topicPrefix: string; log: (msg: string) => void; env?: Record<string, string> }): Promise<{ pipeline: Pipeline; config: Config; stop(): Promise<void>; stopStack(): Promise<void> }> {
  const env: NodeJS.ProcessEnv = { ...process.env, ...opts.env, CONSENTGATE_TOPIC_PREFIX: opts.topicPrefix };
  let stopStack = async () => {};
  if (env.KAFKA_BROKERS && !(await stackAnswers(env))) {
    // A stale address (the local stack was stopped by `dev down`, the shell still has its lines): use a fresh one.
    opts.log(`KAFKA_BROKERS=${env.KAFKA_BROKERS} or SCHEMA_REGISTRY_URL=${env.SCHEMA_REGISTRY_URL ?? ''} does not answer: starting a stack of its own instead`);
    delete env.KAFKA_BROKERS;
    delete env.SCHEMA_REGISTRY_URL;
  }
  if (!env.KAFKA_BROKERS) {
    opts.log('starting a local Apache Kafka and schema registry (first run fetches jars from Maven Central)…');
    const stack = await startLocalStack({ dir: mkdtempSync(join(tmpdir(), `consentgate-${opts.name}-`)), detached: false, log: opts.log });
    env.KAFKA_BROKERS = stack.brokers;
    env.SCHEMA_REGISTRY_URL = stack.registryUrl;
    opts.log(`  Kafka ${stack.versions.kafka} at ${stack.brokers}, ${stack.versions.registry} at ${stack.registryUrl}`);
    stopStack = () => stopLocalStack(stack);
  }
  env.CONSENTGATE_FIELD_KEY ??= randomBytes(32).toString('hex');
  // A key store of its own (embedded PGlite unless DATABASE_URL is set) under a fresh master key.
  env.CONSENTGATE_MASTER_KEY ??= randomBytes(32).toString('hex');
  if (!env.DATABASE_URL) env.CONSENTGATE_KEYSTORE_DIR ??= mkdtempSync(join(tmpdir(), `consentgate-${opts.name}-keys-`));
  env.LOG_LEVEL ??= 'warn';
  try {
    const cfg = loadConfig({ env });
    if (!cfg.ok) throw new Error(`invalid configuration:\n${cfg.problems.join('\n')}`);
    const pipeline = await createPipeline(cfg.config, createLogger(cfg.config.logLevel), systemClock);
    await applyTopology(pipeline.admin, pipeline.topology);
    return {
      pipeline,
      config: cfg.config,
      async stop() {
        await pipeline.stop();
        await stopStack();
      },
      stopStack,
    };
  } catch (err) {
    await stopStack();
    throw err;
  }
}

/** Whether the configured broker and registry answer (within 3 s). */
async function stackAnswers(env: NodeJS.ProcessEnv): Promise<boolean> {
  const cfg = loadConfig({ env: { ...env, KAFKA_CONNECT_TIMEOUT_MS: '3000' } });
  if (!cfg.ok) return true; // a configuration problem is reported as such, later
  try {
    await Promise.all([checkKafka(cfg.config.kafka), checkRegistry(cfg.config.schemaRegistry, 3000)]);
    return true;
  } catch {
    return false;
  }
}
