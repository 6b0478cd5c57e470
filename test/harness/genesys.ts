import { createKafka } from '../../src/adapters/kafka.ts';
import { createLogger } from '../../src/adapters/logger.ts';
import { ensureTopics, loadDefinitions, systemClock, topologySerdes } from '../../src/app.ts';
import type { Config } from '../../src/config.ts';
import { startConnectors, type Connectors } from '../../src/connectors/index.ts';
import { GenesysSimulator, type SimulatorOptions } from '../../src/simulator/index.ts';
import { readTopic } from '../../src/adapters/topicReader.ts';
import type { InRecord } from '../../src/adapters/kafka.ts';
import type { Clock } from '../../src/domain/clock.ts';
import { startPipeline, testConfig, TopicClient } from './pipeline.ts';

/** Env lines that point consentgate at a simulator, as `consentgate simulate genesys` prints them. */
export function genesysEnv(sim: GenesysSimulator): Record<string, string> {
  return { GENESYS_BASE_URL: sim.baseUrl, GENESYS_CLIENT_ID: sim.clientId, GENESYS_CLIENT_SECRET: sim.clientSecret };
}

/** A simulator plus the given connectors on topics of their own (no enforcement pipeline). */
export async function startConnectorRig(o: { connectors: string; sim?: SimulatorOptions; env?: Record<string, string> }) {
  const sim = await GenesysSimulator.start({ seed: 7, ...o.sim });
  const config: Config = testConfig(undefined, { ...genesysEnv(sim), CONSENTGATE_CONNECTORS: o.connectors, CONSENTGATE_HTTP_PORT: '0', ...o.env });
  const logger = createLogger(config.logLevel);
  const { topology } = loadDefinitions(config);
  const kafka = createKafka(config.kafka, logger);
  await ensureTopics(kafka, topology);
  const serdes = await topologySerdes(config, topology);
  let connectors: Connectors = await startConnectors({ config, kafka, topology, serdes, clock: systemClock, logger });
  const read = async <T>(logical: string): Promise<{ raw: InRecord; key: string; value: T }[]> => {
    const rs = await readTopic(kafka, topology.topic(logical).name);
    return Promise.all(rs.map(async (raw) => ({ raw, key: raw.key?.toString() ?? '', value: (await serdes.forTopic(logical).decode(raw.value)) as T })));
  };
  return {
    sim, config, kafka, topology, serdes, read,
    get connectors() {
      return connectors;
    },
    async restartConnectors() {
      await connectors.stop();
      connectors = await startConnectors({ config, kafka, topology, serdes, clock: systemClock, logger });
    },
    async stop() {
      await connectors.stop();
      await sim.close();
    },
  };
}

/**
 * A simulator, the pipeline in this process and the connectors (env: CONSENTGATE_CONNECTORS and the like, beside the
 * simulator's settings), on topics of their own; `client` reads and writes their topics.
 */
export async function startGenesysPipeline(o: { seed: number; env: (sim: GenesysSimulator) => Record<string, string>; prefix?: string; clock?: Clock }) {
  const sim = await GenesysSimulator.start({ seed: o.seed });
  const clock = o.clock ?? systemClock;
  const env = { ...genesysEnv(sim), CONSENTGATE_HTTP_PORT: '0', ...o.env(sim) };
  const config = testConfig(o.prefix, env);
  const pipeline = await startPipeline(config, clock);
  const connectors = await startConnectors({ config, kafka: pipeline.kafka, topology: pipeline.topology, serdes: pipeline.serdes, clock, logger: createLogger(config.logLevel), keyStore: pipeline.keyStore });
  const client = await TopicClient.open(pipeline);
  return {
    sim, pipeline, connectors, client, env,
    async stop() {
      await client.close();
      await connectors.stop();
      await pipeline.stop();
      await sim.close();
    },
  };
}
