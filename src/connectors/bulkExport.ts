import type { GenesysClient } from '../adapters/genesys.ts';
import type { OutRecord, TaskProducer } from '../adapters/kafka.ts';
import type { Logger } from '../adapters/logger.ts';
import type { SerdeRegistry } from '../adapters/schemaRegistry.ts';
import { exportRecordsOf } from '../domain/analyticsConversations.ts';
import { withResolvedSubject, type IdentityIndex } from '../domain/identity.ts';
import type { Clock } from '../domain/clock.ts';
import type { Topology } from '../runtime/topology.ts';
import type { Checkpoints } from './checkpoints.ts';
import { deadLetterRecord } from './sink.ts';

/** Version of the export mapping stamped on every ExportRecord; bump it when the mapping changes. */
export const EXPORT_VERSION = 1;

export interface ExportState {
  interval: string;
  jobId: string | null;
  /** Cursor of the next page to read; null before the first page. */
  cursor: string | null;
  pages: number;
  conversations: number;
  records: number;
  deadLettered: number;
  done: boolean;
}

export interface ExportProgress extends ExportState {
  name: string;
  resumed: boolean;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * A bulk export: an analytics conversation-details job → genesys.exports, where the enforcement decides every
 * record against the consent current when it is read (a job's snapshot is never trusted for consent). Each page
 * is written in one transaction with the export's checkpoint (job id, next cursor, counts) in connect.offsets, so
 * a killed export resumes at the first page it had not committed: nothing is skipped or written twice. An expired
 * job is resubmitted and read from the start; record ids name the export, not the job, so the copies are
 * recognisable.
 */
export async function runExport(o: {
  name: string;
  interval: string;
  pageSize: number;
  genesys: GenesysClient;
  producer: TaskProducer;
  checkpoints: Checkpoints;
  topology: Topology;
  serdes: SerdeRegistry;
  clock: Clock;
  logger: Logger;
  pollMs?: number;
  /** The identity graph: records that name no contact are resolved through it, as the source connectors do. */
  identity?: IdentityIndex;
  progress(p: ExportProgress): void;
}): Promise<ExportProgress> {
  const key = `export:${o.name}`;
  const saved = o.checkpoints.get<ExportState>(key);
  if (saved && saved.interval !== o.interval) {
    throw new Error(`export ${o.name} was started for interval ${saved.interval}; use another --name for ${o.interval}`);
  }
  let state: ExportState = saved ?? { interval: o.interval, jobId: null, cursor: null, pages: 0, conversations: 0, records: 0, deadLettered: 0, done: false };
  const report = () => o.progress({ ...state, name: o.name, resumed: saved !== undefined });
  const commit = async (records: OutRecord[], next: ExportState) => {
    await o.producer.commit([...records, o.checkpoints.record(key, next)], '', []);
    state = next;
  };
  if (state.done) {
    report();
    return { ...state, name: o.name, resumed: true };
  }
  const exportsTopic = o.topology.topic('genesys.exports').name;
  const serde = o.serdes.forTopic('genesys.exports');

  job: for (;;) {
    if (!state.jobId) {
      const body = { interval: o.interval, order: 'asc', orderBy: 'conversationStart' };
      const { jobId } = await o.genesys.call<{ jobId: string }>('postAnalyticsConversationsDetailsJobs', (a) => a.analytics.postAnalyticsConversationsDetailsJobs!(body));
      await commit([], { ...state, jobId, cursor: null });
      o.logger.info({ export: o.name, jobId }, 'analytics job submitted');
    }
    const jobId = state.jobId!;
    const status = await waitForJob(o, jobId);
    if (status === 'gone') {
      o.logger.warn({ export: o.name, jobId }, 'analytics job expired or vanished: resubmitting and reading it from the start');
      await commit([], { ...state, jobId: null, cursor: null });
      continue job;
    }
    for (;;) {
      const opts: Record<string, unknown> = { pageSize: o.pageSize };
      if (state.cursor) opts.cursor = state.cursor;
      let page: { conversations?: unknown[]; cursor?: string };
      try {
        page = await o.genesys.call('getAnalyticsConversationsDetailsJobResults', (a) => a.analytics.getAnalyticsConversationsDetailsJobResults!(jobId, opts));
      } catch (err) {
        if ((err as { status?: number }).status !== 404) throw err;
        o.logger.warn({ export: o.name, jobId }, 'analytics job expired while reading: resubmitting and reading it from the start');
        await commit([], { ...state, jobId: null, cursor: null });
        continue job;
      }
      const records: OutRecord[] = [];
      let produced = 0;
      let dead = 0;
      for (const c of page.conversations ?? []) {
        const mapped = exportRecordsOf(c, { exportId: o.name, jobId, version: EXPORT_VERSION });
        if ('invalid' in mapped) {
          records.push(deadLetterRecord(o, { source: 'bulk-export', what: `job ${jobId}`, raw: Buffer.from(JSON.stringify(c)) }, mapped.invalid));
          dead++;
          continue;
        }
        for (const r of mapped) {
          const { key: k, value } = o.identity ? withResolvedSubject(o.identity, r.value, r.key) : r;
          records.push({ topic: exportsTopic, key: k, value: serde.encode(value) });
        }
        produced += mapped.length;
      }
      await commit(records, {
        ...state,
        cursor: page.cursor ?? null,
        pages: state.pages + 1,
        conversations: state.conversations + (page.conversations ?? []).length,
        records: state.records + produced,
        deadLettered: state.deadLettered + dead,
        done: !page.cursor,
      });
      report();
      if (state.done) return { ...state, name: o.name, resumed: saved !== undefined };
    }
  }
}

async function waitForJob(o: { genesys: GenesysClient; pollMs?: number }, jobId: string): Promise<'ready' | 'gone'> {
  for (;;) {
    let s: { state?: string; errorMessage?: string };
    try {
      s = await o.genesys.call('getAnalyticsConversationsDetailsJob', (a) => a.analytics.getAnalyticsConversationsDetailsJob!(jobId));
    } catch (err) {
      if ((err as { status?: number }).status === 404) return 'gone';
      throw err;
    }
    if (s.state === 'FULFILLED') return 'ready';
    if (s.state === 'EXPIRED') return 'gone';
    if (s.state === 'FAILED' || s.state === 'CANCELLED') throw new Error(`analytics job ${jobId} ${s.state}: ${s.errorMessage ?? 'no reason given'}`);
    await sleep(o.pollMs ?? 1000);
  }
}
