import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, it } from 'node:test';
import { promisify } from 'node:util';
import { committedOffsets, createKafka, topicOffsets } from '../../src/adapters/kafka.ts';
import { createLogger } from '../../src/adapters/logger.ts';
import { readTopic } from '../../src/adapters/topicReader.ts';
import { loadDefinitions, PROJECT_ROOT, topologySerdes } from '../../src/app.ts';
import type { SinkRecord } from '../../src/domain/fieldRules.ts';
import type { PurgeCommand } from '../../src/domain/purge.ts';
import type { Decision } from '../../src/domain/types.ts';
import { startRun, topicsOf } from '../harness/runProcess.ts';
import { conversation, testConfig, testEnv, waitFor } from '../harness/pipeline.ts';

// Issue 14 on the real broker: a policy change on a stream with forwarded, blocked and unknown-consent records. The
// dry run counts what the replay then writes; the replay, SIGKILLed mid-way and started again, writes each record's
// new-generation decisions once; records produced meanwhile are decided live under the new generation (the cutover),
// none twice, none skipped; every vendor that got a now-forbidden record gets a purge command naming it.
const cleanups: (() => Promise<unknown> | unknown)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await Promise.resolve(c()).catch(() => {});
});

const cli = (prefix: string, args: string[], extra: Record<string, string> = {}) =>
  promisify(execFile)(process.execPath, [resolve(PROJECT_ROOT, 'bin/consentgate.js'), ...args], { env: { ...process.env, ...testEnv(prefix, extra) }, maxBuffer: 16 << 20 });

it('replay: dry run equals the result, exactly once across SIGKILL and the cutover, retractions reach the vendors', async () => {
  const run = await startRun({ workers: 1 });
  cleanups.push(() => run.stop());
  const { prefix } = run;
  const config = testConfig(prefix);
  const { topology } = loadDefinitions(config);
  const kafka = createKafka(config.kafka, createLogger('error'));
  const admin = kafka.admin();
  await admin.connect();
  cleanups.push(() => admin.disconnect());
  const serdes = await topologySerdes(config, topology);
  const name = (l: string) => topology.topic(l).name;
  const t = await topicsOf(prefix);
  cleanups.push(() => t.close());

  // A: every purpose; B: no analytics; C: nothing yet (blocked CONSENT_UNKNOWN live), granted before the replay.
  const group = (g: string, n: number) => Array.from({ length: n }, (_, i) => `${g}-${i}-${randomUUID().slice(0, 6)}`);
  const [A, B, C] = [group('a', 60), group('b', 60), group('c', 30)];
  for (const c of A) await t.consent(c, { MARKETING: true, ANALYTICS: true, THIRD_PARTY: true });
  for (const c of B) await t.consent(c, { MARKETING: true, ANALYTICS: false, THIRD_PARTY: true });
  const PER = 8;
  for (let i = 0; i < PER; i++) for (const c of [...A, ...B, ...C]) await t.record(c);
  await t.malformed(A[0]!); // dead-lettered live; no generation decides it
  // One record of a bulk export (genesys.exports), so that retiring generation 1 supersedes its export job.
  const exportJob = `job-${randomUUID().slice(0, 6)}`;
  const exportProducer = kafka.producer({ idempotent: true });
  await exportProducer.connect();
  cleanups.push(() => exportProducer.disconnect());
  await exportProducer.send({ topic: name('genesys.exports'), messages: [{ key: A[1]!, value: serdes.forTopic('genesys.exports').encode({ ...conversation(A[1]!), exportJobId: exportJob, exportVersion: 1 }) }] });
  const before = (A.length + B.length + C.length) * PER + 1;
  await waitFor('the live pipeline decided every record', async () => (await t.count('audit.decisions')) === before * 3, 120_000);
  for (const c of C) await t.consent(c, { MARKETING: true, ANALYTICS: true, THIRD_PARTY: true });
  await waitFor('the live pipeline applied the grants', async () => {
    const topic = name('consent.events');
    const [committed, ends] = await Promise.all([committedOffsets(admin, topology.applicationId, [topic]), topicOffsets(admin, topic)]);
    return [...ends].every(([p, o]) => (committed.get(`${topic}:${p}`) ?? 0n) >= o.high);
  }, 60_000);

  // The new generation: crm also needs ANALYTICS; analytics drops dnis.
  const doc = JSON.parse(readFileSync(resolve(PROJECT_ROOT, 'topologies/policy.json'), 'utf8'));
  Object.assign(doc, { version: `test-${randomUUID().slice(0, 6)}`, generation: 2 });
  doc.sinks.crm.requires = ['MARKETING', 'ANALYTICS'];
  doc.sinks.analytics.fields.dnis = 'drop';
  const policyFile = join(mkdtempSync(join(tmpdir(), 'consentgate-replay-')), 'policy.json');
  writeFileSync(policyFile, JSON.stringify(doc));

  // Bad input: exit 2 naming what to fix.
  const failed = (args: string[]) => cli(prefix, args).then(() => ({ code: 0, stderr: '' }), (e: { code: number; stderr: string }) => e);
  assert.match((await failed(['replay'])).stderr, /\[USAGE\] replay needs --policy <file>/);
  const badFrom = await failed(['replay', '--policy', policyFile, '--from', 'yesterday']);
  assert.deepEqual([badFrom.code, /--from <time>' argument 'yesterday' is invalid/.test(badFrom.stderr)], [2, true]);
  const skipping = join(mkdtempSync(join(tmpdir(), 'consentgate-replay-')), 'policy.json');
  writeFileSync(skipping, JSON.stringify({ ...doc, generation: 3 }));
  const skip = await failed(['replay', '--policy', skipping, '--dry-run']);
  assert.equal(skip.code, 2);
  assert.match(skip.stderr, /\[CONFIG_INVALID\] the live pipeline serves generation 1 \(policy [^)]+\): the new policy must say "generation": 2, not 3/);

  const dry = JSON.parse((await cli(prefix, ['replay', '--policy', policyFile, '--dry-run', '--json', '--quiet'])).stdout);
  const a = A.length * PER + 1, b = B.length * PER, c = C.length * PER;
  const expected = {
    crm: { keep: a, retract: b, admit: c, reshape: 0 },
    analytics: { keep: b, retract: 0, admit: c, reshape: a },
    thirdparty: { keep: a + b, retract: 0, admit: c, reshape: 0 },
  };
  assert.deepEqual(dry.sinks, expected);
  assert.equal(dry.records, before);
  assert.ok(!(await admin.listTopics()).includes(`${name('sink.crm')}.v2`), 'the dry run wrote nothing (not even the new topics)');

  // The replay, slowed to 5 records a transaction, is killed once it has committed some of its work.
  const replayGroup = `${topology.applicationId}-replay-g2`;
  const child = spawn(process.execPath, [resolve(PROJECT_ROOT, 'bin/consentgate.js'), 'replay', '--policy', policyFile, '--quiet'], { env: { ...process.env, ...testEnv(prefix, { CONSENTGATE_MAX_BATCH_RECORDS: '5' }) }, stdio: 'ignore' });
  cleanups.push(() => child.kill('SIGKILL'));
  const conversations = name('genesys.conversations');
  await waitFor('the replay committed part of its work', async () => {
    const at = await committedOffsets(admin, replayGroup, [conversations]);
    return [...at.values()].some((o) => o > 5n);
  }, 120_000);
  child.kill('SIGKILL');
  const status = JSON.parse((await cli(prefix, ['replay', 'status', '--json'])).stdout);
  assert.equal(status.status, 'REPLAYING');
  assert.ok(status.remaining > 0, `killed mid-way (${status.remaining} left)`);
  assert.ok(status.partitions.every((p: { cutover: string | null }) => p.cutover !== null), 'every partition was cut over before the replay started');

  // Records produced now lie past the cutover markers: the live pipeline decides them under generation 2.
  const D = group('d', 20);
  for (const c of D) await t.consent(c, { MARKETING: true, ANALYTICS: true, THIRD_PARTY: true });
  for (const c of D) for (let i = 0; i < 3; i++) await t.record(c);

  const result = JSON.parse((await cli(prefix, ['replay', '--policy', policyFile, '--json', '--quiet'])).stdout);
  assert.equal(result.status, 'COMPLETE');
  assert.equal(result.resumed, true);
  assert.deepEqual(result.sinks, expected, 'what the replay wrote is what the dry run counted');
  assert.equal(result.records, before);
  assert.deepEqual(result.retractions.records, b);
  const done = JSON.parse((await cli(prefix, ['replay', 'status', '--json'])).stdout);
  assert.deepEqual([done.status, done.remaining], ['COMPLETE', 0]);

  // Every valid record has exactly one generation-2 decision per sink: the replay's below the cutover, live ones after.
  const total = before + D.length * 3;
  await waitFor('the live pipeline decided the records produced during the replay', async () => (await t.count('audit.decisions')) === before * 3 + total * 3, 60_000);
  const decisions = await Promise.all((await readTopic(kafka, name('audit.decisions'))).map((r) => serdes.forTopic<Decision>('audit.decisions').decode(r.value)));
  const gen2 = decisions.filter((d) => d.generation === 2);
  const perRecord = new Map<string, string[]>();
  for (const d of gen2) perRecord.set(d.recordId, [...(perRecord.get(d.recordId) ?? []), d.sink]);
  assert.equal(perRecord.size, total, 'no record without generation-2 decisions');
  for (const [id, sinks] of perRecord) assert.deepEqual(sinks.sort(), ['analytics', 'crm', 'thirdparty'], `record ${id}: one decision per sink`);
  const dRecords = new Set(gen2.filter((d) => D.includes(d.customerId!)).map((d) => d.recordId));
  assert.equal(dRecords.size, D.length * 3);
  assert.ok(gen2.filter((d) => dRecords.has(d.recordId)).every((d) => d.replayId === null), 'records after the cutover are decided live');
  assert.ok(gen2.filter((d) => !dRecords.has(d.recordId)).every((d) => d.replayId === result.replayId), 'records below it by the replay');
  assert.equal(decisions.filter((d) => d.generation === 1 && dRecords.has(d.recordId)).length, 0, 'nothing after the cutover is decided under generation 1');

  // The new generation's topics hold each permitted record once, reduced by the new rules.
  const crm = await Promise.all((await readTopic(kafka, `${name('sink.crm')}.v2`)).map((r) => serdes.forTopic<SinkRecord>('sink.crm').decode(r.value)));
  const crmIds = crm.map((r) => r.recordId);
  assert.equal(new Set(crmIds).size, crmIds.length, 'no duplicate in sink.crm.v2');
  assert.deepEqual(new Set(crmIds), new Set(gen2.filter((d) => d.sink === 'crm' && d.outcome === 'FORWARDED').map((d) => d.recordId)));
  assert.equal(crm.filter((r) => B.includes(r.customerId!)).length, 0, 'B lacks analytics consent: not in the new CRM generation');
  assert.equal(crmIds.length, a + c + D.length * 3);
  const analytics = await Promise.all((await readTopic(kafka, `${name('sink.analytics')}.v2`)).map((r) => serdes.forTopic<SinkRecord>('sink.analytics').decode(r.value)));
  assert.equal(analytics.length, a + c + D.length * 3);
  assert.ok(analytics.every((r) => r.dnis === null), 'dnis dropped under the new rules');

  // The CRM's vendor is asked to delete each of B's records once (RETRACTION, naming them), through the purge topology.
  const bIds = new Set(decisions.filter((d) => d.generation === 1 && B.includes(d.customerId!) && d.sink === 'crm' && d.outcome === 'FORWARDED').map((d) => d.recordId));
  assert.equal(bIds.size, b);
  await waitFor('the retractions sent', async () => (await t.count('purge.commands')) > 0, 60_000);
  const commands = await Promise.all((await readTopic(kafka, name('purge.commands'))).map((r) => serdes.forTopic<PurgeCommand>('purge.commands').decode(r.value)));
  const retractions = commands.filter((x) => x.reason === 'RETRACTION' && x.attempt === 1);
  assert.ok(retractions.every((x) => x.vendor === 'crm-sync' && B.includes(x.customerId)));
  const retracted = retractions.flatMap((x) => x.recordIds);
  assert.equal(retracted.length, b, 'each retracted record named once');
  assert.deepEqual(new Set(retracted), bIds);

  // Retiring generation 1 ("disable older export versions"): not the live one; then retention shortened, a notice
  // closing each partition, the export job superseded, its policy refused by run, decrypt failing with the successor's
  // name; after the grace period its topics are deleted.
  const refused = await failed(['replay', 'retire', '--generation', '2']);
  assert.deepEqual([refused.code, /generation 2 is the live one/.test(refused.stderr)], [2, true], refused.stderr);
  const retired = JSON.parse((await cli(prefix, ['replay', 'retire', '--generation', '1', '--grace-hours', '0.001', '--json'])).stdout);
  assert.deepEqual([retired.action, retired.status, retired.supersededExports], ['retired', 'RETIRED', [exportJob]]);
  const [crm1] = (await admin.describeConfigs({ includeSynonyms: false, resources: [{ type: 2, name: name('sink.crm'), configNames: ['retention.ms'] }] })).resources;
  assert.equal(crm1!.configEntries[0]!.configValue, '3600');
  const tail = (await readTopic(kafka, name('sink.crm'))).filter((r) => r.headers['consentgate-control']?.toString() === 'generation-retired');
  assert.equal(tail.length, topology.topic('sink.crm').partitions, 'each partition ends with the notice');
  assert.equal(JSON.parse(tail[0]!.value!.toString()).readInstead, `${name('sink.crm')}.v2`);
  const oldPolicy = join(mkdtempSync(join(tmpdir(), 'consentgate-replay-')), 'policy.json');
  writeFileSync(oldPolicy, readFileSync(resolve(PROJECT_ROOT, 'topologies/policy.json')));
  const oldRun = await cli(prefix, ['run'], { CONSENTGATE_POLICY_FILE: oldPolicy, CONSENTGATE_OPS_PORT: '0' }).then(() => ({ code: 0, stderr: '' }), (e: { code: number; stderr: string }) => e);
  assert.equal(oldRun.code, 2, oldRun.stderr);
  assert.match(oldRun.stderr, /\[CONFIG_INVALID\] policy [^ ]+ is generation 1, retired at .*configure the live generation's policy \(generation 2/);
  const reader = await failed(['decrypt', '--topic', 'sink.crm']);
  assert.equal(reader.code, 1);
  assert.match(reader.stderr, new RegExp(`\\[GENERATION_RETIRED\\] ${name('sink.crm').replace(/\./g, '\\.')} is policy generation 1, retired at .*: read ${name('sink.crm').replace(/\./g, '\\.')}\\.v2 instead`));
  assert.equal((await cli(prefix, ['decrypt', '--topic', 'sink.crm.v2', '--max', '1'])).stdout.trim().split('\n').length, 1, 'the new generation reads as before');
  await new Promise((r) => setTimeout(r, 4000));
  const deleted = JSON.parse((await cli(prefix, ['replay', 'retire', '--generation', '1', '--json'])).stdout);
  assert.deepEqual([deleted.action, deleted.status], ['deleted', 'DELETED']);
  const left = await admin.listTopics();
  assert.ok(!left.includes(name('sink.crm')) && left.includes(`${name('sink.crm')}.v2`));
});
