import { createKafka, TaskProducer } from '../adapters/kafka.ts';
import { createLogger } from '../adapters/logger.ts';
import { ensureTopics, loadDefinitions, systemClock, topologySerdes } from '../app.ts';
import type { Config } from '../config.ts';
import { runExport } from '../connectors/bulkExport.ts';
import { Checkpoints } from '../connectors/checkpoints.ts';
import { IdentityGraph } from '../connectors/identity.ts';
import { genesysClient } from '../connectors/index.ts';

/** `consentgate export`: prints progress lines to stderr and a JSON summary to stdout. */
export async function exportCommand(o: { from: number; to: number; name?: string; pageSize: number }, cfg: Config): Promise<void> {
  const { pageSize } = o;
  const interval = `${new Date(o.from).toISOString()}/${new Date(o.to).toISOString()}`;
  const name = o.name ?? interval.replace(/[^0-9TZ]/g, '').replace(/T(\d{6})\d*Z/g, 'T$1Z');

  const logger = createLogger(cfg.logLevel);
  const { topology } = loadDefinitions(cfg);
  const kafka = createKafka(cfg.kafka, logger);
  await ensureTopics(kafka, topology);
  const serdes = await topologySerdes(cfg, topology);
  // Opening the export's transactional producer fences a previous run of the same export that is still alive.
  const producer = await TaskProducer.open(kafka, `${topology.applicationId}-export-${name}`);
  const graph = await IdentityGraph.start({ kafka, topology, serdes, logger });
  try {
    const checkpoints = await Checkpoints.load(kafka, topology, serdes, systemClock);
    const result = await runExport({
      name, interval, pageSize, genesys: genesysClient(cfg, logger, systemClock), producer, checkpoints, topology, serdes, clock: systemClock, logger, identity: graph.index,
      progress: (p) => console.error(`export ${p.name}: page ${p.pages}, ${p.conversations} conversations → ${p.records} records, ${p.deadLettered} dead-lettered${p.resumed ? ' (resumed)' : ''}${p.done ? ', done' : ''}`),
    });
    console.log(JSON.stringify({ name: result.name, jobId: result.jobId, pages: result.pages, conversations: result.conversations, records: result.records, deadLettered: result.deadLettered, done: result.done }));
  } finally {
    await graph.stop();
    await producer.close();
  }
}
