import { parseArgs } from 'node:util';
import { createKafka, TaskProducer } from '../adapters/kafka.ts';
import { createLogger } from '../adapters/logger.ts';
import { ensureTopics, loadDefinitions, systemClock, topologySerdes } from '../app.ts';
import type { Config } from '../config.ts';
import { runExport } from '../connectors/bulkExport.ts';
import { Checkpoints } from '../connectors/checkpoints.ts';
import { genesysClient } from '../connectors/index.ts';

export const EXPORT_HELP = `consentgate export --from <ISO time> --to <ISO time> [--name NAME] [--page-size N] [--config FILE]

Bulk-exports Genesys analytics conversation details of the interval (an async analytics job) to genesys.exports,
page by page; the enforcement then decides every record against current consent. Each page is committed with the
export's cursor, so running the same command again after a crash resumes where it stopped; a finished export
prints its totals and does nothing. --name defaults to the interval; --page-size defaults to 100.`;

/** `consentgate export`: prints progress lines to stderr and a JSON summary to stdout. */
export async function exportCommand(argv: string[], loadConfig: (file?: string) => Config): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: { from: { type: 'string' }, to: { type: 'string' }, name: { type: 'string' }, 'page-size': { type: 'string' }, config: { type: 'string' } },
  });
  const cfg = loadConfig(values.config);
  const from = Date.parse(values.from ?? '');
  const to = Date.parse(values.to ?? '');
  if (!Number.isFinite(from) || !Number.isFinite(to) || from >= to) throw Object.assign(new Error(`--from and --to must be ISO times with from < to\n\n${EXPORT_HELP}`), { exitCode: 2 });
  const pageSize = Number(values['page-size'] ?? 100);
  if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > 1000) throw Object.assign(new Error('--page-size must be 1..1000'), { exitCode: 2 });
  const interval = `${new Date(from).toISOString()}/${new Date(to).toISOString()}`;
  const name = values.name ?? interval.replace(/[^0-9TZ]/g, '').replace(/T(\d{6})\d*Z/g, 'T$1Z');

  const logger = createLogger(cfg.logLevel);
  const { topology } = loadDefinitions(cfg);
  const kafka = createKafka(cfg.kafka, logger);
  await ensureTopics(kafka, topology);
  const serdes = await topologySerdes(cfg, topology);
  // Opening the export's transactional producer fences a previous run of the same export that is still alive.
  const producer = await TaskProducer.open(kafka, `${topology.applicationId}-export-${name}`);
  try {
    const checkpoints = await Checkpoints.load(kafka, topology, serdes, systemClock);
    const result = await runExport({
      name, interval, pageSize, genesys: genesysClient(cfg, logger, systemClock), producer, checkpoints, topology, serdes, clock: systemClock, logger,
      progress: (p) => console.error(`export ${p.name}: page ${p.pages}, ${p.conversations} conversations → ${p.records} records, ${p.deadLettered} dead-lettered${p.resumed ? ' (resumed)' : ''}${p.done ? ', done' : ''}`),
    });
    console.log(JSON.stringify({ name: result.name, jobId: result.jobId, pages: result.pages, conversations: result.conversations, records: result.records, deadLettered: result.deadLettered, done: result.done }));
  } finally {
    await producer.close();
  }
}
