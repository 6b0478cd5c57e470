import { createKafka } from '../adapters/kafka.ts';
import { createLogger } from '../adapters/logger.ts';
import { checkTopics } from '../adapters/preflight.ts';
import { decryptSinkRecord } from '../adapters/shredding.ts';
import { readTopic } from '../adapters/topicReader.ts';
import { loadDefinitions, openConfiguredKeyStore, topologySerdes } from '../app.ts';
import type { Config } from '../config.ts';
import { readGenerations } from '../replay.ts';
import { isControl } from '../runtime/records.ts';
import { generationTopic } from '../runtime/topology.ts';
import { UsageError } from './errors.ts';

/** `consentgate decrypt`: records as JSON lines on stdout, a count line on stderr. */
export async function decryptCommand(o: { topic: string; max?: number }, cfg: Config): Promise<void> {
  const max = o.max ?? Infinity;
  if (!cfg.masterKey) throw new UsageError('decrypt needs the master key that wraps the data keys: set CONSENTGATE_MASTER_KEY (64 hex characters)', 'CONFIG_INVALID');

  const { topology } = loadDefinitions(cfg);
  const sinkTopics = [...topology.sinks.values()];
  // A sink of any policy generation: sink.crm (generation 1), sink.crm.v2, … (or their names with the topic prefix).
  const [, base, version] = /^(.*?)(?:\.v([1-9]\d*))?$/.exec(o.topic)!;
  const def = sinkTopics.find((t) => t.logical === base || t.name === base);
  if (!def) throw new UsageError(`--topic ${o.topic}: expected one of ${sinkTopics.map((t) => t.logical).join(', ')} or a later generation's (sink.crm.v2, …), or their names with the topic prefix`);
  const generation = Number(version ?? 1);
  const topic = generationTopic(def, generation);

  const logger = createLogger(cfg.logLevel);
  const kafka = createKafka(cfg.kafka, logger);
  const serdes = await topologySerdes(cfg, topology);
  // A retired generation's topic says so, and which topic replaced it: an error, not silence (or a missing topic).
  const log = await readGenerations({ kafka, topology, serdes });
  const retired = log.get(generation);
  if (retired && (retired.status === 'RETIRED' || retired.status === 'DELETED')) {
    const live = [...log.values()].filter((g) => g.status === 'COMPLETE').sort((a, b) => b.generation - a.generation)[0];
    throw Object.assign(new Error(`${topic} is policy generation ${generation}, retired at ${new Date(retired.retiredAt!).toISOString()}${retired.status === 'DELETED' ? ' and deleted' : ` (deleted after ${new Date(retired.deleteAfter!).toISOString()})`}: read ${live ? generationTopic(def, live.generation) : 'the live generation\'s topic'} instead`), { code: 'GENERATION_RETIRED' });
  }
  await checkTopics(cfg.kafka, [topic]);
  const serde = serdes.forTopic<object>(def.logical);
  const keys = await openConfiguredKeyStore(cfg);
  const counts = { records: 0, erased: 0, failedFields: 0, undecodable: 0 };
  try {
    const records = (await readTopic(kafka, topic)).filter((r) => !isControl(r));
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
  console.error(`decrypt ${topic}: ${counts.records} records, ${counts.erased} erased, ${counts.failedFields} undecryptable fields, ${counts.undecodable} undecodable records`);
}
