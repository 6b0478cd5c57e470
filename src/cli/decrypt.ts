import { createKafka } from '../adapters/kafka.ts';
import { createLogger } from '../adapters/logger.ts';
import { checkTopics } from '../adapters/preflight.ts';
import { decryptSinkRecord } from '../adapters/shredding.ts';
import { readTopic } from '../adapters/topicReader.ts';
import { loadDefinitions, openConfiguredKeyStore, topologySerdes } from '../app.ts';
import type { Config } from '../config.ts';
import { UsageError } from './errors.ts';

/** `consentgate decrypt`: records as JSON lines on stdout, a count line on stderr. */
export async function decryptCommand(o: { topic: string; max?: number }, cfg: Config): Promise<void> {
  const max = o.max ?? Infinity;
  if (!cfg.masterKey) throw new UsageError('decrypt needs the master key that wraps the data keys: set CONSENTGATE_MASTER_KEY (64 hex characters)', 'CONFIG_INVALID');

  const { topology } = loadDefinitions(cfg);
  const sinkTopics = [...topology.sinks.values()];
  const def = sinkTopics.find((t) => t.logical === o.topic || t.name === o.topic);
  if (!def) throw new UsageError(`--topic ${o.topic}: expected one of ${sinkTopics.map((t) => t.logical).join(', ')} (or their names with the topic prefix)`);

  await checkTopics(cfg.kafka, [topology.topic(def.logical).name]);
  const logger = createLogger(cfg.logLevel);
  const kafka = createKafka(cfg.kafka, logger);
  const serdes = await topologySerdes(cfg, topology);
  const serde = serdes.forTopic<object>(def.logical);
  const keys = await openConfiguredKeyStore(cfg);
  const counts = { records: 0, erased: 0, failedFields: 0, undecodable: 0 };
  try {
    const records = await readTopic(kafka, topology.topic(def.logical).name);
    for (const r of records.slice(0, max)) {
      let value: object;
      try {
        value = await serde.decode(r.value);
      } catch (err) {
        // Counted and reported by position only: the bytes may hold personal data.
        counts.undecodable++;
        console.error(`decrypt: partition ${r.partition} offset ${r.offset} not decodable (${(err as { code?: string }).code ?? 'ERROR'})`);
        continue;
      }
      const { record, erased, failures } = await decryptSinkRecord(value, keys);
      counts.records++;
      if (erased) counts.erased++;
      counts.failedFields += failures;
      console.log(JSON.stringify({ ...record, ...(erased ? { _erased: true } : {}), ...(failures ? { _failures: failures } : {}) }));
    }
  } finally {
    await keys.close();
  }
  console.error(`decrypt ${def.name}: ${counts.records} records, ${counts.erased} erased, ${counts.failedFields} undecryptable fields, ${counts.undecodable} undecodable records`);
}
