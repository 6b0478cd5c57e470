import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, it } from 'node:test';
import { createKafka } from '../../src/adapters/kafka.ts';
import { createLogger } from '../../src/adapters/logger.ts';
import { readTopic } from '../../src/adapters/topicReader.ts';
import { loadDefinitions, topologySerdes } from '../../src/app.ts';
import { conversation, testConfig, waitFor } from '../harness/pipeline.ts';
import { scrape, startRun } from '../harness/runProcess.ts';

// GET /metrics of `consentgate run` with two worker processes, on the real broker: the figures agree with what is
// in the topics, the lag of a fully processed transactional partition is 0 (not 1), and no label carries PII.
const cleanups: (() => Promise<unknown> | void)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await Promise.resolve(c()).catch(() => {});
});

const sum = (m: Map<string, number>, prefix: string, where: (k: string) => boolean = () => true) =>
  [...m].filter(([k]) => k.startsWith(prefix) && where(k)).reduce((n, [, v]) => n + v, 0);

it('/metrics agrees with the topics: records in, decisions by sink/outcome/reason, dead letters, lag 0 after a transactional backlog', async () => {
  const run = await startRun({ workers: 2 });
  cleanups.push(() => run.stop());
  const prefix = run.prefix;
  const get = (path: string) => fetch(`http://127.0.0.1:${run.opsPort}${path}`);
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
    m = await scrape(run.opsPort);
    const lags = [...m].filter(([k]) => k.startsWith('kafka_consumergroup_group_lag{') && k.includes(conversations));
    const processes = ['supervisor', '0', '1'].every((w) => (m.get(`process_resident_memory_bytes{worker="${w}"}`) ?? 0) > 0);
    return processes && m.get(`consentgate_records_in_total{topic="${conversations}"}`) === 60 && lags.length === 6 && lags.every(([, v]) => v === 0) && m.get(`kafka_consumergroup_group_max_lag{group="${prefix}consentgate"}`) === 0;
  }, 30_000).catch((e: Error) => { throw new Error(`${e.message}\n${[...m].filter(([k]) => !k.startsWith('process_') && !k.startsWith('nodejs_')).map(([k, v]) => `${k} ${v}`).join('\n')}`); });

  assert.equal((await get('/metrics')).headers.get('content-type'), 'text/plain; version=0.0.4; charset=utf-8');
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
  // Each process of the run has its own Node.js metrics (prom-client's defaults), labelled with its worker number.
  for (const w of ['supervisor', '0', '1']) assert.ok((m.get(`nodejs_heap_size_used_bytes{worker="${w}"}`) ?? 0) > 0, `heap of ${w}`);
  for (const w of ['0', '1']) assert.ok((m.get(`consentgate_worker_resident_memory_bytes{worker="${w}"}`) ?? 0) > 0, `RSS of worker ${w}, by its number`);
  const text = await (await get('/metrics')).text();
  for (const c of customers) assert.ok(!text.includes(c), 'no customer id in /metrics');
  assert.ok(!text.includes('ann@example.com') && !text.includes('+15550001'), 'no e-mail or phone number in /metrics');
  assert.equal(await run.stop(), 0, run.stderr());
});
