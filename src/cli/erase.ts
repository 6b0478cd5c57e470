import { parseArgs } from 'node:util';
import { createKafka, openProducer } from '../adapters/kafka.ts';
import { createLogger } from '../adapters/logger.ts';
import { loadDefinitions, openConfiguredKeyStore, systemClock, topologySerdes } from '../app.ts';
import type { Config } from '../config.ts';
import { requestErasure } from '../connectors/erasure.ts';
import { genesysClient } from '../connectors/index.ts';
import { shreddingSinks } from '../domain/policy.ts';

export const ERASE_HELP = `consentgate erase <customerId> [--genesys-delete] [--source TEXT] [--config FILE]

Erases a data subject (GDPR Art. 17, CCPA 1798.105): destroys the customer's data keys, so every crypto-shredded
field of theirs in every topic becomes unreadable for good and no key is ever minted for them again; with
--genesys-delete also files a Genesys Cloud GDPR_DELETE request; then writes the request to erasure.requests, where
the pipeline withdraws every purpose and sends PURGE_REQUESTs to every vendor that received the customer's data.
Prints the request as JSON. Needs CONSENTGATE_MASTER_KEY (and DATABASE_URL, else the embedded key store).`;

export async function eraseCommand(argv: string[], loadConfig: (file?: string) => Config): Promise<void> {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { 'genesys-delete': { type: 'boolean' }, source: { type: 'string' }, config: { type: 'string' } } });
  const [customerId] = positionals;
  if (!customerId || positionals.length > 1) throw Object.assign(new Error(`expected exactly one customer id\n\n${ERASE_HELP}`), { exitCode: 2 });
  const cfg = loadConfig(values.config);
  const logger = createLogger(cfg.logLevel);
  const { topology, policy } = loadDefinitions(cfg);
  const keyStore = shreddingSinks(policy).length || cfg.masterKey ? await openConfiguredKeyStore(cfg) : undefined;
  const kafka = createKafka(cfg.kafka, logger);
  const producer = await openProducer(kafka);
  try {
    const serdes = await topologySerdes(cfg, topology);
    const genesysDelete = values['genesys-delete'] ?? false;
    const request = await requestErasure({
      customerId, source: values.source ?? 'CLI', genesysDelete, keyStore, genesys: genesysDelete ? genesysClient(cfg, logger, systemClock) : undefined,
      sender: producer, topology, serdes, clock: systemClock,
    });
    console.log(JSON.stringify(request));
  } finally {
    await producer.close();
    await keyStore?.close();
  }
}
