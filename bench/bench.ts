// `npm run bench`: one run, same machine, same client library, same N records.
//  (a) raw broker round trip: produce N records, then consume them back;
//  (b) the enforcement pipeline with exactly-once: N records in → N×3 decisions committed;
//  (c) opt-out propagation: revocation acknowledged → first record of that customer blocked, p50/p99;
//  (d) the Genesys notifications source: simulator WebSocket → mapped, validated, Avro-encoded → acked on Kafka.
// It prints figures; it asserts nothing.
import { randomUUID } from 'node:crypto';
import { openProducer, type OutRecord } from '../src/adapters/kafka.ts';
import type { Decision } from '../src/domain/types.ts';
import { conversationRecord, seeded } from '../src/demo/traffic.ts';
import { startEphemeralPipeline } from '../src/cli/ephemeralPipeline.ts';
import { resolve } from 'node:path';
import { GenesysClient } from '../src/adapters/genesys.ts';
import { createLogger } from '../src/adapters/logger.ts';
import { registerSchemas } from '../src/adapters/schemaRegistry.ts';
import { applyTopology, PROJECT_ROOT, systemClock } from '../src/app.ts';
import { DEFAULT_TOPICS } from '../src/config.ts';
import { NotificationsSource } from '../src/connectors/notifications.ts';
import { SourceSink } from '../src/connectors/sink.ts';
import { loadTopology } from '../src/runtime/topology.ts';
import { GenesysSimulator } from '../src/simulator/index.ts';

const N = Number(process.env.BENCH_RECORDS ?? 200_000);
const CUSTOMERS = 1000;
const OPT_OUTS = Number(process.env.BENCH_OPT_OUTS ?? 200);
const EVENTS = Number(process.env.BENCH_EVENTS ?? 20_000);

const rate = (n: number, ms: number) => Math.round((n / ms) * 1000);
const pct = (xs: number[], p: number) => xs.slice().sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]!;

const { pipeline, config, stop } = await startEphemeralPipeline({ name: 'bench', topicPrefix: `bench-${randomUUID().slice(0, 8)}.`, log: console.log });
const { kafka, topology, serdes, admin, engine } = pipeline;
const name = (l: string) => topology.topic(l).name;
const partitions = topology.topic('genesys.conversations').partitions;

console.log(`bench: N=${N} records, ${CUSTOMERS} customers, ${partitions} partitions, Kafka at ${config.kafka.brokers.join(',')}`);
const rand = seeded(7);
const customers = Array.from({ length: CUSTOMERS }, (_, i) => `bc-${i}`);
const conv = serdes.forTopic('genesys.conversations');
const records: OutRecord[] = Array.from({ length: N }, (_, i) => {
  const c = customers[i % CUSTOMERS]!;
  return { topic: '', key: c, value: conv.encode(conversationRecord(rand, i, c, Date.now())) };
});
const bytes = records.reduce((a, r) => a + (r.value?.length ?? 0), 0);
console.log(`record size: ${Math.round(bytes / N)} B average`);

async function produceAll(topic: string): Promise<number> {
  const producer = await openProducer(kafka);
  const t0 = performance.now();
  const chunk = 1000;
  const inflight: Promise<void>[] = [];
  for (let i = 0; i < N; i += chunk) {
    inflight.push(producer.send(records.slice(i, i + chunk).map((r) => ({ ...r, topic }))));
    if (inflight.length >= 8) await inflight.shift();
  }
  await Promise.all(inflight);
  const ms = performance.now() - t0;
  await producer.close();
  return ms;
}

// (a) raw round trip: the same records through a plain topic and a plain read_committed consumer.
const rawTopic = `${config.topicPrefix}raw`;
await admin.createTopics({ topics: [{ topic: rawTopic, numPartitions: partitions }] });
const rawStart = performance.now();
const rawProduceMs = await produceAll(rawTopic);
const consumer = kafka.consumer({ groupId: `bench-raw-${randomUUID()}`, maxWaitTimeInMs: 100 });
await consumer.connect();
await consumer.subscribe({ topic: rawTopic, fromBeginning: true });
let consumed = 0;
const allConsumed = new Promise<void>((resolve) => {
  void consumer.run({ autoCommit: false, eachBatch: async ({ batch }) => { consumed += batch.messages.length; if (consumed >= N) resolve(); } });
});
await allConsumed;
const rawMs = performance.now() - rawStart;
await consumer.disconnect();

// (b) the pipeline: consents first, then the same records through enforcement with exactly-once.
const producer = await openProducer(kafka);
const ce = serdes.forTopic('consent.events');
await producer.send(customers.map((c, i) => ({
  topic: name('consent.events'), key: c,
  value: ce.encode({ eventId: `e-${c}`, customerId: c, capturedAt: Date.now(), source: 'IMPORT', purposes: [
    { purpose: 'MARKETING', granted: i % 3 !== 0, channel: null }, { purpose: 'ANALYTICS', granted: true, channel: null }, { purpose: 'THIRD_PARTY', granted: i % 2 === 0, channel: null }] }),
})));
await engine.start();
while (!engine.ready || engine.metrics.processedRecords < CUSTOMERS) await new Promise((r) => setTimeout(r, 50));
const base = engine.metrics.processedRecords;
const txBase = engine.metrics.committedTransactions;
const pipeStart = performance.now();
await produceAll(name('genesys.conversations'));
while (engine.metrics.processedRecords - base < N) await new Promise((r) => setTimeout(r, 20));
const pipeMs = performance.now() - pipeStart;
const txs = engine.metrics.committedTransactions - txBase;

// (c) opt-out propagation under a steady background flow of records.
const watcher = kafka.consumer({ groupId: `bench-watch-${randomUUID()}`, maxWaitTimeInMs: 10 });
await watcher.connect();
await watcher.subscribe({ topic: name('audit.decisions'), fromBeginning: false });
const waiting = new Map<string, (t: number) => void>();
const decisionSerde = serdes.forTopic<Decision>('audit.decisions');
await watcher.run({
  autoCommit: false,
  eachBatch: async ({ batch }) => {
    for (const m of batch.messages) {
      const id = m.key?.toString();
      if (!id || !waiting.size) continue;
      const d = await decisionSerde.decode(m.value);
      if (d.sink === 'analytics' && d.outcome === 'BLOCKED') waiting.get(d.recordId)?.(performance.now());
    }
  },
});
await new Promise((r) => setTimeout(r, 2000)); // let the watcher join and sit at the end
let background = true;
const bg = (async () => {
  let i = N;
  while (background) {
    await producer.send(Array.from({ length: 200 }, () => ({ topic: name('genesys.conversations'), key: customers[i % CUSTOMERS]!, value: conv.encode(conversationRecord(rand, i++, customers[i % CUSTOMERS]!, Date.now())) })));
    await new Promise((r) => setTimeout(r, 20));
  }
})();
const latencies: number[] = [];
for (let k = 0; k < OPT_OUTS; k++) {
  const c = customers[k]!;
  await producer.send([{ topic: name('consent.events'), key: c, value: ce.encode({ eventId: randomUUID(), customerId: c, capturedAt: Date.now(), source: 'WEB', purposes: [{ purpose: 'ANALYTICS', granted: false, channel: null }] }) }]);
  const acked = performance.now();
  const rec = conversationRecord(rand, 10_000_000 + k, c, Date.now());
  const blocked = new Promise<number>((resolve) => waiting.set(rec.recordId, resolve));
  await producer.send([{ topic: name('genesys.conversations'), key: c, value: conv.encode(rec) }]);
  latencies.push((await blocked) - acked);
  waiting.delete(rec.recordId);
}
background = false;
await bg;
await watcher.disconnect();
await producer.close();

// (d) Genesys notifications → Kafka, on topics of their own (the pipeline does not read them).
const sim = await GenesysSimulator.start({ seed: 3 });
const logger = createLogger('warn');
const srcTopology = loadTopology(resolve(PROJECT_ROOT, config.topologyFile), `${config.topicPrefix}src.`);
await applyTopology(admin, srcTopology);
const srcSerdes = await registerSchemas({ ...config.schemaRegistry, schemasDir: resolve(PROJECT_ROOT, 'schemas'), topology: srcTopology });
const sender = await openProducer(kafka);
const sink = new SourceSink({ sender, topology: srcTopology, serdes: srcSerdes, clock: systemClock, logger });
const genesys = new GenesysClient({ baseUrl: sim.baseUrl, clientId: sim.clientId, clientSecret: sim.clientSecret, requestsPerMinute: 1500, maxAttempts: 8, rateLimitDeadlineMs: 60_000, timeoutMs: 16_000 }, logger);
const source = new NotificationsSource({ genesys, sink, topics: DEFAULT_TOPICS, backfillLookbackMs: 0, clock: systemClock, logger });
await source.start();
const srcStart = performance.now();
for (let i = 0; i < EVENTS; i++) {
  sim.startConversation({ customerId: customers[i % CUSTOMERS]!, mediaType: 'voice', ani: '+15550001' });
  if (i % 200 === 199) await new Promise((r) => setImmediate(r));
}
while (sink.stats.written < EVENTS) await new Promise((r) => setTimeout(r, 5));
const srcMs = performance.now() - srcStart;
await source.stop();
await sender.close();
await sim.close();
await stop();

const rawRate = rate(N, rawMs);
const pipeRate = rate(N, pipeMs);
console.log('');
console.log(`(a) raw round trip (kafkajs produce ${rate(N, rawProduceMs)}/s, then consume): ${rawRate} records/s (${(rawMs / 1000).toFixed(1)} s)`);
console.log(`(b) enforcement, exactly-once, 3 sinks + decisions: ${pipeRate} records/s (${(pipeMs / 1000).toFixed(1)} s, ${txs} transactions, ${Math.round(N / Math.max(1, txs))} records/transaction)`);
console.log(`    ratio b/a: ${(pipeRate / rawRate).toFixed(2)}`);
console.log(`(c) opt-out propagation, ack → first record blocked, ${OPT_OUTS} samples: p50 ${pct(latencies, 50).toFixed(1)} ms, p99 ${pct(latencies, 99).toFixed(1)} ms, max ${Math.max(...latencies).toFixed(1)} ms`);
console.log(`(d) Genesys notifications source, simulator socket → acked on Kafka: ${rate(EVENTS, srcMs)} events/s (${EVENTS} customer.start events, ${(srcMs / 1000).toFixed(1)} s; simulator in the same process)`);
console.log(`    ratio d/raw produce: ${(rate(EVENTS, srcMs) / rate(N, rawProduceMs)).toFixed(2)}`);
process.exit(0);
