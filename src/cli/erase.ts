import { createKafka, openProducer } from '../adapters/kafka.ts';
import { createLogger } from '../adapters/logger.ts';
import { checkTopics } from '../adapters/preflight.ts';
import { loadDefinitions, openConfiguredKeyStore, systemClock, topologySerdes } from '../app.ts';
import type { Config } from '../config.ts';
import { requestErasure } from '../connectors/erasure.ts';
import { genesysClient } from '../connectors/index.ts';
import { shreddingSinks } from '../domain/policy.ts';

/** `consentgate erase`: prints the erasure request as JSON. */
export async function eraseCommand(customerId: string, o: { genesysDelete?: boolean; source: string }, cfg: Config): Promise<void> {
  const logger = createLogger(cfg.logLevel);
  const { topology, policy } = loadDefinitions(cfg);
  await checkTopics(cfg.kafka, [topology.topic('erasure.requests').name]);
  const keyStore = shreddingSinks(policy).length || cfg.masterKey ? await openConfiguredKeyStore(cfg) : undefined;
  const kafka = createKafka(cfg.kafka, logger);
  const producer = await openProducer(kafka);
  try {
    const serdes = await topologySerdes(cfg, topology);
    const genesysDelete = o.genesysDelete ?? false;
    const request = await requestErasure({
      customerId, source: o.source, genesysDelete, keyStore, genesys: genesysDelete ? genesysClient(cfg, logger, systemClock) : undefined,
      sender: producer, topology, serdes, clock: systemClock,
    });
    console.log(JSON.stringify(request));
  } finally {
    await producer.close();
    await keyStore?.close();
  }
}
