import { parseArgs } from 'node:util';
import { createKafka } from '../adapters/kafka.ts';
import { createLogger } from '../adapters/logger.ts';
import { decryptSinkRecord } from '../adapters/shredding.ts';
import { readTopic } from '../adapters/topicReader.ts';
import { loadDefinitions, openConfiguredKeyStore, topologySerdes } from '../app.ts';
import type { Config } from '../config.ts';

export const DECRYPT_HELP = `consentgate decrypt --topic <sink.crm|sink.analytics|sink.thirdparty or a physical name> [--max N] [--config FILE]

Reads a sink topic from the beginning to its current end (committed records only) and prints one JSON line per
record with its crypto-shredded fields decrypted. A field whose customer was erased prints as null and its record
carries "_erased": true; a field that cannot be decrypted otherwise keeps its ciphertext and the record carries
"_failures": N. Needs CONSENTGATE_MASTER_KEY, and DATABASE_URL or the key store directory the pipeline uses
(CONSENTGATE_KEYSTORE_DIR, default .cache/keystore). Prints the totals to stderr.`;

const usage = (message: string) => Object.assign(new Error(`${message}\n\n${DECRYPT_HELP}`), { exitCode: 2 });

/** `consentgate decrypt`: records as JSON lines on stdout, a count line on stderr. */
export async function decryptCommand(argv: string[], loadConfig: (file?: string) => Config): Promise<void> {
  const { values } = parseArgs({ args: argv, options: { topic: { type: 'string' }, max: { type: 'string' }, config: { type: 'string' } } });
  const max = values.max === undefined ? Infinity : Number(values.max);
  if (!(max === Infinity || (Number.isInteger(max) && max > 0))) throw usage('--max must be a positive integer');
  const cfg = loadConfig(values.config);
  if (!cfg.masterKey) throw Object.assign(new Error('decrypt needs the master key that wraps the data keys: set CONSENTGATE_MASTER_KEY (64 hex characters)'), { exitCode: 2 });

  const { topology } = loadDefinitions(cfg);
  const sinkTopics = [...topology.sinks.values()];
  const def = sinkTopics.find((t) => t.logical === values.topic || t.name === values.topic);
  if (!def) throw usage(`--topic must be one of ${sinkTopics.map((t) => t.logical).join(', ')} (or their names with the topic prefix)`);

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
