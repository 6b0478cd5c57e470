import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { resolve } from 'node:path';
import { after, it } from 'node:test';
import { createKafka } from '../../src/adapters/kafka.ts';
import { createLogger } from '../../src/adapters/logger.ts';
import { readTopic } from '../../src/adapters/topicReader.ts';
import { loadDefinitions, PROJECT_ROOT, topologySerdes } from '../../src/app.ts';
import { freePort } from '../../src/devstack/process.ts';
import { conversation, testConfig, testEnv, waitFor } from '../harness/pipeline.ts';

// GET /metrics of `consentgate run` with two worker processes, on the real broker: the figures agree with what is
// in the topics, the lag of a fully processed transactional partition is 0 (not 1), and no label carries PII.
const cleanups: (() => Promise<void> | void)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await Promise.resolve(c()).catch(() => {});
});

/** Parses the text format into series → value (labels as written, sorted by the exporter). */
function parse(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const at = line.lastIndexOf(' ');
    out.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return out;
}
const sum = (m: Map<string, number>, prefix: string, where: (k: string) => boolean = () => true) =>
  [...m].filter(([k]) => k.startsWith(prefix) && where(k)).reduce((n, [, v]) => n + v, 0);

it('/metrics agrees with the topics: records in, decisions by sink/outcome/reason, dead letters, lag 0 after a transactional backlog', async () => {
  const prefix = `m${Date.now().toString(36)}.`;
  const port = await freePort();
  const env = testEnv(prefix, { CONSENTGATE_OPS_PORT: String(port), CONSENTGATE_WORKERS: '2' });
  const child = spawn(process.execPath, [resolve(PROJECT_ROOT, 'bin/consentgate.js'), 'run'], { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (b: Buffer) => (stderr = (stderr + b.toString()).slice(-20_000)));
  cleanups.push(() => void child.kill('SIGKILL'));
  const get = async (path: string) => fetch(`http://127.0.0.1:${port}${path}`).catch(() => undefined);
  await waitFor('ready', async () => {
    if (child.exitCode !== null) throw new Error(`run exited ${child.exitCode}`);
    return (await get('/readyz'))?.status === 200;
  }, 120_000).catch((e: Error) => { throw new Error(`${e.message}\n${stderr}`); });

  const config = testConfig(prefix);
  const { topology } = loadDefinitions(config);
  const kafka = createKafka(config.kafka, createLogger('error'));
  const serdes = await topologySerdes(config, topology);
  const name = (logical: string) => topology.topic(logical).name;
  const customers = Array.from({ length: 10 }, (_, i) => `cust-${randomUUID()}-${i}`);
  const producer = kafka.producer({ transactionalId: `${prefix}metrics-test`, idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  cleanups.push(() => producer.disconnect());
  const inTransaction = async (messages: { topic: string; key: string; value: Buffer }[]) => {
    const tx = await producer.transaction();
    for (const m of messages) await tx.send({ topic: m.topic, messages: [{ key: m.key, value: m.value }] });
    await tx.commit();
  };
  await inTransaction(customers.map((c) => ({
    topic: name('consent.events'), key: c,
    value: serdes.forTopic('consent.events').encode({ eventId: randomUUID(), customerId: c, capturedAt: Date.now(), source: 'WEB', purposes: [{ purpose: 'MARKETING', granted: true, channel: null }, { purpose: 'ANALYTICS', granted: false, channel: null }] }),
  })));
  // 60 records in 3 transactions (each leaves a commit marker after its records), 2 of them malformed.
  for (let t = 0; t < 3; t++) {
    await inTransaction(Array.from({ length: 20 }, (_, i) => {
      const c = customers[(t * 20 + i) % customers.length]!;
      const malformed = t === 2 && i >= 18;
      return { topic: name('genesys.conversations'), key: c, value: malformed ? Buffer.from('not avro at all') : serdes.forTopic('genesys.conversations').encode(conversation(c)) };
    }));
  }

  await waitFor('every record decided', async () => (await readTopic(kafka, name('audit.decisions'))).length === 58 * 3, 60_000);
  const conversations = name('genesys.conversations');
  let m = new Map<string, number>();
  await waitFor('the metrics show every record and no lag', async () => {
    const res = await get('/metrics');
    if (res?.status !== 200) return false;
    m = parse(await res.text());
    const lags = [...m].filter(([k]) => k.startsWith('kafka_consumergroup_group_lag{') && k.includes(conversations));
    return m.get(`consentgate_records_in_total{topic="${conversations}"}`) === 60 && lags.length === 6 && lags.every(([, v]) => v === 0) && m.get(`kafka_consumergroup_group_max_lag{group="${prefix}consentgate"}`) === 0;
  }, 30_000).catch((e: Error) => { throw new Error(`${e.message}\n${[...m].filter(([k]) => !k.startsWith('process_') && !k.startsWith('nodejs_')).map(([k, v]) => `${k} ${v}`).join('\n')}`); });

  assert.equal((await get('/metrics'))!.headers.get('content-type'), 'text/plain; version=0.0.4; charset=utf-8');
  // Decisions: per sink, outcome and reason as the audit topic has them.
  assert.equal(sum(m, 'consentgate_decisions_total{'), 58 * 3);
  assert.equal(m.get('consentgate_decisions_total{outcome="FORWARDED",reason="CONSENT_GRANTED",sink="crm"}'), 58);
  assert.equal(m.get('consentgate_decisions_total{outcome="BLOCKED",reason="CONSENT_WITHDRAWN",sink="analytics"}'), 58);
  assert.equal(m.get(`consentgate_dead_letters_total{code="DESERIALIZATION_FAILED",topic="${conversations}"}`), 2);
  assert.equal(m.get(`consentgate_records_in_total{topic="${name('consent.events')}"}`), 10);
  assert.ok((m.get('consentgate_transactions_total{result="committed"}') ?? 0) >= 1);
  assert.equal(m.get('consentgate_decision_latency_seconds_count'), 60, 'every stream record processed, over both workers');
  // (Above: a lag series per partition of genesys.conversations, all 0 although each ends in a commit marker.)
  assert.equal(sum(m, 'kafka_consumergroup_group_lag_seconds{', (k) => k.includes(conversations)), 0);
  assert.equal(m.get(`consentgate_store_entries{store="${name('consent.state')}"}`), 10);
  assert.equal(m.get('consentgate_workers'), 2);
  const text = await (await get('/metrics'))!.text();
  for (const c of customers) assert.ok(!text.includes(c), 'no customer id in /metrics');
  assert.ok(!text.includes('ann@example.com') && !text.includes('+15550001'), 'no e-mail or phone number in /metrics');
  child.kill('SIGTERM');
});
