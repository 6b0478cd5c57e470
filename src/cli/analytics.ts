import { randomBytes } from 'node:crypto';
import { createWriteStream, existsSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { once } from 'node:events';
import { extname } from 'node:path';
import { loadDefinitions, openAnalyticsStore, systemClock } from '../app.ts';
import type { Config } from '../config.ts';
import { publicRow, ReadersFile, readCheckedPage, sha256 } from '../connectors/analyticsApi.ts';
import { decodeCursor, storedSinks, storeDdl } from '../domain/analyticsStore.ts';
import type { Channel } from '../domain/types.ts';
import { UsageError } from './errors.ts';
import { progressBar } from './progress.ts';

function storedPolicy(cfg: Config) {
  const { policy } = loadDefinitions(cfg);
  const sinks = storedSinks(policy);
  if (sinks.length === 0) throw new UsageError(`policy ${policy.version} (${cfg.policyFile}) lands no sink in the analytics store: mark one "store": "postgres"`, 'CONFIG_INVALID');
  return { policy, sinks };
}

const names = (cfg: Config) => ({ schema: cfg.analytics.schema, readerRole: cfg.analytics.readerRole });

/** `consentgate analytics ddl`: the SQL `apply` runs, for review or a migration tool. */
export function ddlCommand(cfg: Config): void {
  process.stdout.write(storeDdl(storedPolicy(cfg).policy, names(cfg)));
}

/** `consentgate analytics apply`: installs the store's tables, reader views and role (idempotent). */
export async function applyCommand(cfg: Config): Promise<void> {
  const { policy, sinks } = storedPolicy(cfg);
  const store = openAnalyticsStore(cfg, policy);
  try {
    await store.apply();
  } finally {
    await store.db.close();
  }
  const views = sinks.map((s) => `${cfg.analytics.schema}.${s.name} (requires ${s.requires.join(', ')})`).join(', ');
  console.error(`analytics store installed for policy ${policy.version}: reader views ${views}; role ${cfg.analytics.readerRole} may read them and nothing else — GRANT ${cfg.analytics.readerRole} TO <bi_login>;`);
}

/** `consentgate analytics token`: a new bearer token for a reader, its SHA-256 written to the readers file. */
export function tokenCommand(o: { reader: string; sink?: string; readers: string }, cfg: Config): void {
  const { sinks } = storedPolicy(cfg);
  const sink = o.sink ?? sinks[0]!.name;
  if (!sinks.some((s) => s.name === sink)) throw new UsageError(`--sink ${sink}: the policy stores ${sinks.map((s) => s.name).join(', ')} only`);
  const file = existsSync(o.readers) ? ReadersFile.parse(JSON.parse(readFileSync(o.readers, 'utf8'))) : { readers: {} };
  const token = randomBytes(24).toString('base64url');
  const next = ReadersFile.parse({ readers: { ...file.readers, [o.reader]: { sink, tokenSha256: sha256(token) } } });
  writeFileSync(o.readers, `${JSON.stringify(next, null, 2)}\n`, { mode: 0o600 });
  console.error(`reader ${o.reader} may read ${sink}; its token's SHA-256 is in ${o.readers} (CONSENTGATE_ANALYTICS_READERS). The token, shown once:`);
  console.log(token);
}

const csvField = (v: unknown) => {
  const s = v === null || v === undefined ? '' : typeof v === 'string' ? v : JSON.stringify(v);
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
};
const CSV_COLUMNS = ['policy_version', 'checked_at', 'record_id', 'customer_id', 'conversation_id', 'channel', 'occurred_at', 'kind', 'generation', 'record'];

/**
 * `consentgate export-store`: streams a stored sink to a CSV or JSON-lines file, page by page; each row's consent is
 * checked at the moment its page is read (through the reader view, then again in code), so a customer who opts out
 * while the export runs has no row in it read after that. Every row carries the policy version and the time of its
 * check. Written to FILE.partial and renamed when complete.
 */
export async function exportStoreCommand(o: { sink: string; out: string; from?: number; to?: number; channel?: Channel; quiet?: boolean }, cfg: Config): Promise<void> {
  const format = extname(o.out).toLowerCase();
  if (format !== '.csv' && format !== '.jsonl') throw new UsageError(`--out ${o.out}: the file name must end in .csv or .jsonl (it says the format)`);
  const { policy, sinks } = storedPolicy(cfg);
  const sink = sinks.find((s) => s.name === o.sink);
  if (!sink) throw new UsageError(`--sink ${o.sink}: the policy stores ${sinks.map((s) => s.name).join(', ')} only`);
  const store = openAnalyticsStore(cfg, policy);
  const partial = `${o.out}.partial`;
  const file = createWriteStream(partial);
  const write = async (line: string) => {
    if (!file.write(line)) await once(file, 'drain');
  };
  const progress = progressBar(o.quiet);
  let rows = 0;
  let withheld = 0;
  try {
    progress.phase(`export ${sink.name}`, await store.visibleRows(sink.name));
    if (format === '.csv') await write(`${CSV_COLUMNS.join(',')}\n`);
    for (let after: { occurredAt: number; recordId: string } | undefined, more = true; more;) {
      const page = await readCheckedPage(store, sink, { from: o.from, to: o.to, channel: o.channel, after, limit: 1000 });
      const checkedAt = new Date(systemClock.now()).toISOString();
      for (const r of page.rows) {
        const p = publicRow(r);
        await write(format === '.csv'
          ? `${[policy.version, checkedAt, p.recordId, p.customerId, p.conversationId, p.channel, p.occurredAt, p.kind, p.generation, p.record].map(csvField).join(',')}\n`
          : `${JSON.stringify({ policyVersion: policy.version, checkedAt, ...p })}\n`);
      }
      rows += page.rows.length;
      withheld += page.withheld;
      progress.advance(page.rows.length + page.withheld);
      more = page.next !== null;
      after = page.next ? decodeCursor(page.next) : undefined;
    }
    file.end();
    await once(file, 'finish');
    renameSync(partial, o.out);
  } catch (err) {
    file.destroy();
    rmSync(partial, { force: true });
    throw err;
  } finally {
    progress.stop();
    await store.db.close();
  }
  console.log(JSON.stringify({ sink: sink.name, out: o.out, rows, withheld, policyVersion: policy.version }));
}
