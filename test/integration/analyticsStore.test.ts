import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { PROJECT_ROOT } from '../../src/app.ts';
import { sha256 } from '../../src/connectors/analyticsApi.ts';
import { freePort } from '../../src/devstack/process.ts';
import type { PurgeAck, PurgeCommand } from '../../src/domain/purge.ts';
import type { SinkRecord } from '../../src/domain/fieldRules.ts';
import { DATABASE_URL, testEnv, waitFor } from '../harness/pipeline.ts';
import { startRun, topicsOf, type RunProcess } from '../harness/runProcess.ts';

// The consent-aware analytics store on the real broker and PostgreSQL: rows land once across a SIGKILL, the database
// itself hides what consent no longer allows (any query shape, the reader role boxed in), purges delete and
// acknowledge, the read API and the export check consent as rows are read.
const id = randomUUID().slice(0, 8);
const prefix = `an${id}.`;
const schema = `an_${id}`;
const role = `an_${id}_reader`;
const login = `an_${id}_bi`;
const TOKEN = 'dashboard-token-0123456789';
const dir = mkdtempSync(join(tmpdir(), 'consentgate-analytics-'));
const readers = join(dir, 'readers.json');
writeFileSync(readers, JSON.stringify({ readers: { dash: { sink: 'analytics', tokenSha256: sha256(TOKEN) } } }));
let apiPort: number;
let env: Record<string, string>;
let run: RunProcess;
let t: Awaited<ReturnType<typeof topicsOf>>;
const owner = new pg.Pool({ connectionString: DATABASE_URL, max: 2 });
let bi: pg.Client;

const granted = Array.from({ length: 30 }, (_, i) => `g${i}-${id}`);
const refused = Array.from({ length: 10 }, (_, i) => `n${i}-${id}`);
const RECORDS = 1500;
const count = async (sql: string) => Number((await owner.query<{ n: string }>(sql)).rows[0]!.n);
const stored = () => count(`SELECT count(*) AS n FROM ${schema}_raw.sink_analytics`);
/** What a BI tool connected as a member of the reader role sees for one customer, by query shape. */
async function seen(customerId: string) {
  const q = async (sql: string) => Number((await bi.query<{ n: string }>(sql, [customerId])).rows[0]?.n ?? 0);
  return {
    plain: (await bi.query(`SELECT record_id FROM ${schema}.analytics WHERE customer_id = $1`, [customerId])).rowCount,
    join: await q(`SELECT count(*) AS n FROM ${schema}.analytics a JOIN ${schema}.analytics b ON a.conversation_id = b.conversation_id WHERE a.customer_id = $1`),
    aggregate: await q(`SELECT n FROM (SELECT customer_id, count(*) AS n FROM ${schema}.analytics GROUP BY customer_id) x WHERE customer_id = $1`),
  };
}
const api = (query: string, token: string | null = TOKEN) => fetch(`http://127.0.0.1:${apiPort}/v1/analytics/records${query}`, { headers: token ? { authorization: `Bearer ${token}` } : {} });

before(async () => {
  apiPort = await freePort();
  env = { CONSENTGATE_CONNECTORS: 'analytics-store', CONSENTGATE_ANALYTICS_SCHEMA: schema, CONSENTGATE_ANALYTICS_ROLE: role, CONSENTGATE_ANALYTICS_READERS: readers, CONSENTGATE_ANALYTICS_PORT: String(apiPort) };
  run = await startRun({ prefix, env });
  t = await topicsOf(prefix);
  await owner.query(`DO $$ BEGIN CREATE ROLE ${login} LOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$; GRANT ${role} TO ${login}`);
  bi = new pg.Client({ connectionString: DATABASE_URL.replace('postgres@', `${login}@`) });
  await bi.connect();
});

after(async () => {
  await bi?.end().catch(() => {});
  await run?.stop();
  await t?.close();
  await owner.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE; DROP SCHEMA IF EXISTS ${schema}_raw CASCADE; DROP ROLE IF EXISTS ${login}; DROP ROLE IF EXISTS ${role}`).catch(() => {});
  await owner.end();
});

describe('analytics store', () => {
  it('lands every forwarded analytics record once, across a connector killed with SIGKILL and restarted', async () => {
    for (const c of granted) await t.consent(c, { MARKETING: true, ANALYTICS: true, THIRD_PARTY: true });
    for (const c of refused) await t.consent(c, { MARKETING: true, ANALYTICS: false });
    const customers = [...granted, ...refused];
    for (let i = 0; i < RECORDS; i++) await t.record(customers[i % customers.length]!, { channel: Math.floor(i / customers.length) % 2 ? 'CHAT' : 'VOICE' });
    await waitFor('the store filling', async () => (await stored().catch(() => 0)) > 100, 90_000);
    run.child.kill('SIGKILL');
    await run.stop();
    run = await startRun({ prefix, env });
    await waitFor('every record decided', async () => (await t.count('audit.decisions')) >= RECORDS * 3, 120_000);
    const forwarded = new Set((await t.read<SinkRecord>('sink.analytics')).map((r) => r.value.recordId));
    assert.equal(forwarded.size, Array.from({ length: RECORDS }, (_, i) => i % customers.length).filter((k) => k < granted.length).length);
    await waitFor('every forwarded record stored', async () => (await stored()) >= forwarded.size, 60_000);
    const rows = (await owner.query<{ record_id: string }>(`SELECT record_id FROM ${schema}_raw.sink_analytics`)).rows.map((r) => r.record_id);
    assert.equal(rows.length, forwarded.size, 'each record once');
    assert.deepEqual(new Set(rows), forwarded);
    await waitFor('consent mirrored', async () => (await count(`SELECT count(*) AS n FROM ${schema}_raw.consent`)) === customers.length);
  });

  it('any query shape of the reader role hides a channel opt-out at once and shows the rows again after a new grant', async () => {
    const c = granted[1]!;
    const before = await seen(c);
    assert.ok(before.plain! > 0 && before.join > 0 && before.aggregate === before.plain, JSON.stringify(before));
    const total = await count(`SELECT count(*) AS n FROM ${schema}_raw.sink_analytics`);
    assert.equal(Number((await bi.query<{ n: string }>(`SELECT count(*) AS n FROM ${schema}.analytics`)).rows[0]!.n), total);

    const voice = await count(`SELECT count(*) AS n FROM ${schema}_raw.sink_analytics WHERE customer_id = '${c}' AND channel = 'VOICE'`);
    await t.consent(c, { ANALYTICS: false }, 'VOICE');
    await waitFor('VOICE rows hidden', async () => (await seen(c)).plain === before.plain! - voice, 10_000);
    const hidden = await seen(c);
    assert.equal(hidden.aggregate, before.plain! - voice);
    assert.ok(hidden.join < before.join);
    assert.equal(Number((await bi.query<{ n: string }>(`SELECT count(*) AS n FROM ${schema}.analytics`)).rows[0]!.n), total - voice, 'COUNT(*) too');
    assert.equal(await count(`SELECT count(*) AS n FROM ${schema}_raw.sink_analytics WHERE customer_id = '${c}'`), before.plain, 'still stored: a channel opt-out purges nothing');

    await t.consent(c, { ANALYTICS: true }, 'VOICE');
    await waitFor('shown again', async () => (await seen(c)).plain === before.plain, 10_000);
    assert.deepEqual(await seen(c), before);
    for (const n of refused) assert.deepEqual(await seen(n), { plain: 0, join: 0, aggregate: 0 });
  });

  it('the reader role can read neither the raw tables nor the consent mirror, and cannot change or drop the views', async () => {
    for (const sql of [`SELECT * FROM ${schema}_raw.sink_analytics`, `SELECT * FROM ${schema}_raw.consent`]) {
      await assert.rejects(bi.query(sql), /permission denied/);
    }
    await assert.rejects(bi.query(`ALTER VIEW ${schema}.analytics SET (security_barrier = false)`), /must be owner/);
    await assert.rejects(bi.query(`DROP VIEW ${schema}.analytics`), /must be owner/);
    await assert.rejects(bi.query(`CREATE OR REPLACE VIEW ${schema}.analytics AS SELECT 1`), /permission denied|must be owner/);
    await assert.rejects(bi.query(`CREATE VIEW ${schema}.mine AS SELECT 1`), /permission denied/);
  });

  it('the read API: tokens, scopes, parameters, and pages of rows whose consent holds now', async () => {
    assert.equal((await api('', null)).status, 401);
    assert.equal((await api('', 'not-a-token')).status, 401);
    assert.equal((await api('?sink=crm')).status, 403);
    const bad = await api('?pageSize=0&channel=FAX&cursor=zzz&color=red&from=yesterday');
    assert.equal(bad.status, 400);
    const problems = ((await bad.json()) as { problems: string[] }).problems.join('\n');
    for (const name of ['pageSize', 'channel', 'cursor', 'color', 'from']) assert.match(problems, new RegExp(`^${name}:`, 'm'));

    const seenIds: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const res = await api(`?pageSize=97${cursor ? `&cursor=${cursor}` : ''}`);
      assert.equal(res.status, 200);
      const body = (await res.json()) as { records: { recordId: string; customerId: string }[]; nextCursor: string | null; policyVersion: string };
      assert.ok(body.records.every((r) => granted.includes(r.customerId)));
      seenIds.push(...body.records.map((r) => r.recordId));
      cursor = body.nextCursor;
      pages++;
    } while (cursor);
    assert.equal(new Set(seenIds).size, seenIds.length, 'no row twice across pages');
    assert.equal(seenIds.length, await stored());
    assert.ok(pages > 1);
    const chat = (await (await api('?channel=CHAT&pageSize=1000')).json()) as { records: { channel: string }[] };
    assert.ok(chat.records.length > 0 && chat.records.every((r) => r.channel === 'CHAT'));
  });

  it('a withdrawal hides the customer from the next query, then the store executes its purge command and acknowledges it', async () => {
    const c = granted[2]!;
    const rows = await stored();
    const mine = (await seen(c)).plain!;
    assert.ok(mine > 0);
    await t.consent(c, { ANALYTICS: false });
    await waitFor('hidden', async () => (await seen(c)).plain === 0, 10_000);
    const page = (await (await api('?pageSize=1000')).json()) as { records: { customerId: string }[] };
    assert.ok(!page.records.some((r) => r.customerId === c), 'the API hides it too');

    await waitFor('purged', async () => (await count(`SELECT count(*) AS n FROM ${schema}_raw.sink_analytics WHERE customer_id = '${c}'`)) === 0, 60_000);
    assert.equal(await stored(), rows - mine, 'only that customer\'s rows');
    const commands = (await t.read<PurgeCommand>('purge.commands')).map((x) => x.value).filter((x) => x.customerId === c);
    assert.deepEqual(commands.map((x) => x.vendor).sort(), ['analytics-warehouse', 'consentgate-store']);
    await waitFor('acknowledged', async () => (await t.read<PurgeAck>('purge.acks')).some((a) => a.value.customerId === c), 30_000);
    const acks = (await t.read<PurgeAck>('purge.acks')).map((a) => a.value).filter((a) => a.customerId === c);
    assert.deepEqual(acks.map((a) => [a.vendor, a.status, a.reason]), [['consentgate-store', 'COMPLETED', `deleted ${mine} row(s) from analytics`]]);
  });

  it('export-store writes only rows whose consent holds when they are read, stamped with the policy version', async () => {
    const c = granted[3]!;
    await t.consent(c, { ANALYTICS: false });
    await waitFor('hidden', async () => (await seen(c)).plain === 0, 10_000);
    const exportTo = (out: string) => spawnSync(process.execPath, [resolve(PROJECT_ROOT, 'bin/consentgate.js'), 'export-store', '--sink', 'analytics', '--out', out, '--quiet'], {
      env: { ...process.env, ...testEnv(prefix, env) }, encoding: 'utf8', timeout: 60_000,
    });
    const jsonl = join(dir, 'rows.jsonl');
    const r = exportTo(jsonl);
    assert.equal(r.status, 0, r.stderr);
    const summary = JSON.parse(r.stdout) as { rows: number; policyVersion: string };
    const lines = readFileSync(jsonl, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { customerId: string; policyVersion: string; checkedAt: string });
    assert.equal(lines.length, summary.rows);
    assert.equal(lines.length, Number((await bi.query<{ n: string }>(`SELECT count(*) AS n FROM ${schema}.analytics`)).rows[0]!.n));
    assert.ok(lines.every((l) => l.customerId !== c && l.customerId !== granted[2] && !refused.includes(l.customerId)));
    assert.ok(lines.every((l) => l.policyVersion === summary.policyVersion && !Number.isNaN(Date.parse(l.checkedAt))));

    const csv = exportTo(join(dir, 'rows.csv'));
    assert.equal(csv.status, 0, csv.stderr);
    const [header, ...body] = readFileSync(join(dir, 'rows.csv'), 'utf8').trim().split('\n');
    assert.equal(header, 'policy_version,checked_at,record_id,customer_id,conversation_id,channel,occurred_at,kind,generation,record');
    assert.equal(body.length, lines.length);
    assert.ok(!body.some((l) => l.includes(c)));
    const wrong = exportTo(join(dir, 'rows.txt'));
    assert.equal(wrong.status, 2);
    assert.match(wrong.stderr, /must end in \.csv or \.jsonl/);
  });
});
