// `npm run bench`: one run, same machine, same client library, same N records.
//  (a) raw broker round trip: produce N records, then consume them back;
//  (b) the enforcement pipeline with exactly-once: N records in → N×3 decisions committed, and the same with a
//      bench-only variant that skips the read-your-revocation barrier (never a user option): the guarantee's price;
//  (c) opt-out propagation under a sustained background flow: revocation acknowledged → decision of the next record
//      of that customer, p50/p99/max, for both variants (without the check, some are forwarded: that is the point);
//  (d) the Genesys notifications source: simulator WebSocket → mapped, validated, Avro-encoded → acked on Kafka.
// It prints figures; it asserts nothing.
import { randomUUID } from 'node:crypto';
import { openProducer, type OutRecord } from '../src/adapters/kafka.ts';
import type { Decision } from '../src/domain/types.ts';
import { conversationRecord } from '../src/demo/traffic.ts';
import { mulberry32 } from '../src/simulator/ids.ts';
import { startEphemeralPipeline } from '../src/cli/ephemeralPipeline.ts';
import { resolve } from 'node:path';
import { GenesysClient } from '../src/adapters/genesys.ts';
import { createLogger } from '../src/adapters/logger.ts';
import { ensureTopics, PROJECT_ROOT, systemClock, topologySerdes } from '../src/app.ts';
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

// The stack (started here unless KAFKA_BROKERS is set) stays up until the end; each variant has topics of its own.
const first = await startEphemeralPipeline({ name: 'bench', topicPrefix: `bench-${randomUUID().slice(0, 8)}.`, log: console.log });
const { config } = first;
const { kafka, topology, serdes, admin } = first.pipeline;
const partitions = topology.topic('genesys.conversations').partitions;

console.log(`bench: N=${N} records, ${CUSTOMERS} customers, ${partitions} partitions, Kafka at ${config.kafka.brokers.join(',')}`);
const rand = mulberry32(7);
const customers = Array.from({ length: CUSTOMERS }, (_, i) => `bc-${i}`);
const conv = serdes.forTopic('genesys.conversations');
const records: OutRecord[] = Array.from({ length: N }, (_, i) => {
  const c = customers[i % CUSTOMERS]!;
  return { topic: '', key: c, value: conv.encode(conversationRecord(rand, i, c, Date.now())) };
});
const bytes = records.reduce((a, r) => a + (r.value?.length ?? 0), 0);
console.log(`record size: ${Math.round(bytes / N)} B average`);

async function produceAll(topic: string, client = kafka): Promise<number> {
  const producer = await openProducer(client);
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

// (b) and (c) for one pipeline variant, on topics of its own.
async function measurePipeline(variant: Awaited<ReturnType<typeof startEphemeralPipeline>>) {
  const { kafka, topology, serdes, engine } = variant.pipeline;
  const name = (l: string) => topology.topic(l).name;
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
  await produceAll(name('genesys.conversations'), kafka);
  while (engine.metrics.processedRecords - base < N) await new Promise((r) => setTimeout(r, 20));
  const pipeMs = performance.now() - pipeStart;
  const txs = engine.metrics.committedTransactions - txBase;

  // (c) opt-out propagation under sustained load: a background flow of records at about half of (b)'s rate.
  const watcher = kafka.consumer({ groupId: `bench-watch-${randomUUID()}`, maxWaitTimeInMs: 10 });
  await watcher.connect();
  await watcher.subscribe({ topic: name('audit.decisions'), fromBeginning: false });
  const waiting = new Map<string, (d: { t: number; reason: string }) => void>();
  const decisionSerde = serdes.forTopic<Decision>('audit.decisions');
  await watcher.run({
    autoCommit: false,
    eachBatch: async ({ batch }) => {
      for (const m of batch.messages) {
        if (!waiting.size) continue;
        const d = await decisionSerde.decode(m.value);
        if (d.sink === 'analytics') waiting.get(d.recordId)?.({ t: performance.now(), reason: `${d.outcome}:${d.reason}` });
      }
    },
  });
  await new Promise((r) => setTimeout(r, 2000)); // let the watcher join and sit at the end
  const bgRate = Math.max(500, Math.round(rate(N, pipeMs) / 2));
  let background = true;
  let bgSent = 0;
  const bgStart = performance.now();
  const bg = (async () => {
    let i = N;
    while (background) {
      const due = Math.round(((performance.now() - bgStart) / 1000) * bgRate) - bgSent;
      if (due > 0) {
        await producer.send(Array.from({ length: due }, () => ({ topic: name('genesys.conversations'), key: customers[i % CUSTOMERS]!, value: conv.encode(conversationRecord(rand, i++, customers[i % CUSTOMERS]!, Date.now())) })));
        bgSent += due;
      }
      await new Promise((r) => setTimeout(r, 10));
    }
  })();
  const latencies: number[] = [];
  const outcomes = new Map<string, number>();
  for (let k = 0; k < OPT_OUTS; k++) {
    const c = customers[k]!;
    await producer.send([{ topic: name('consent.events'), key: c, value: ce.encode({ eventId: randomUUID(), customerId: c, capturedAt: Date.now(), source: 'WEB', purposes: [{ purpose: 'ANALYTICS', granted: false, channel: null }] }) }]);
    const acked = performance.now();
    const rec = conversationRecord(rand, 10_000_000 + k, c, Date.now());
    const decided = new Promise<{ t: number; reason: string }>((resolve) => waiting.set(rec.recordId, resolve));
    await producer.send([{ topic: name('genesys.conversations'), key: c, value: conv.encode(rec) }]);
    const d = await decided;
    latencies.push(d.t - acked);
    outcomes.set(d.reason, (outcomes.get(d.reason) ?? 0) + 1);
    waiting.delete(rec.recordId);
  }
  background = false;
  await bg;
  const bgActual = Math.round(bgSent / ((performance.now() - bgStart) / 1000));
  await watcher.disconnect();
  await producer.close();
  await variant.pipeline.stop();
  return { rate: rate(N, pipeMs), seconds: pipeMs / 1000, txs, latencies, outcomes, bgActual };
}

// The two variants run in A B B A order on fresh topics, so what one run leaves behind (broker segments, heap) does
// not favour either; each figure below is the mean of its two runs.
const reuse = { KAFKA_BROKERS: config.kafka.brokers.join(','), SCHEMA_REGISTRY_URL: config.schemaRegistry.url, CONSENTGATE_FIELD_KEY: config.fieldKey!, LOG_LEVEL: 'error' };
const variant = async (skipBarrierForBench: boolean) =>
  measurePipeline(await startEphemeralPipeline({ name: 'bench', topicPrefix: `bench-${randomUUID().slice(0, 8)}.`, log: () => {}, env: reuse, internal: { skipBarrierForBench } }));
const runs = [await measurePipeline(first), await variant(true), await variant(true), await variant(false)];
type Run = (typeof runs)[number];
const merge = (a: Run, b: Run): Run => ({
  rate: Math.round((a.rate + b.rate) / 2), seconds: (a.seconds + b.seconds) / 2, txs: Math.round((a.txs + b.txs) / 2),
  latencies: [...a.latencies, ...b.latencies], bgActual: Math.round((a.bgActual + b.bgActual) / 2),
  outcomes: new Map([...new Set([...a.outcomes.keys(), ...b.outcomes.keys()])].map((k) => [k, (a.outcomes.get(k) ?? 0) + (b.outcomes.get(k) ?? 0)])),
});
const checked = merge(runs[0]!, runs[3]!);
const unchecked = merge(runs[1]!, runs[2]!);

// (d) Genesys notifications → Kafka, on topics of their own (the pipeline does not read them).
const sim = await GenesysSimulator.start({ seed: 3 });
const logger = createLogger('warn');
const srcTopology = loadTopology(resolve(PROJECT_ROOT, config.topologyFile), `${config.topicPrefix}src.`);
await ensureTopics(kafka, srcTopology);
const srcSerdes = await topologySerdes(config, srcTopology);
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
await first.stopStack();

const rawRate = rate(N, rawMs);
const ms = (xs: number[]) => `p50 ${pct(xs, 50).toFixed(1)} ms, p99 ${pct(xs, 99).toFixed(1)} ms, max ${Math.max(...xs).toFixed(1)} ms`;
const outcomes = (m: Map<string, number>) => [...m].map(([k, v]) => `${k} ${v}`).join(', ');
console.log('');
console.log(`(a) raw round trip (kafkajs produce ${rate(N, rawProduceMs)}/s, then consume): ${rawRate} records/s (${(rawMs / 1000).toFixed(1)} s)`);
console.log(`(b) enforcement, exactly-once, 3 sinks + decisions, crypto-shredding (embedded key store): ${checked.rate} records/s (${checked.seconds.toFixed(1)} s, ${checked.txs} transactions, ${Math.round(N / Math.max(1, checked.txs))} records/transaction)`);
console.log(`    ratio b/a: ${(checked.rate / rawRate).toFixed(2)} (b: mean of two runs, A B B A order with the variant below; runs ${runs.map((r) => r.rate).join(', ')})`);
console.log(`    bench-only variant without the read-your-revocation check: ${unchecked.rate} records/s (${unchecked.txs} transactions); with/without: ${(checked.rate / unchecked.rate).toFixed(2)}`);
console.log(`(c) opt-out propagation under a sustained background flow of ${checked.bgActual} records/s, ack → decision of the next record, ${checked.latencies.length} samples: ${ms(checked.latencies)} (${outcomes(checked.outcomes)})`);
console.log(`    without the check (background ${unchecked.bgActual} records/s): ${ms(unchecked.latencies)} (${outcomes(unchecked.outcomes)})`);
console.log(`(d) Genesys notifications source, simulator socket → acked on Kafka: ${rate(EVENTS, srcMs)} events/s (${EVENTS} customer.start events, ${(srcMs / 1000).toFixed(1)} s; simulator in the same process)`);
console.log(`    ratio d/raw produce: ${(rate(EVENTS, srcMs) / rate(N, rawProduceMs)).toFixed(2)}`);
process.exit(0);
