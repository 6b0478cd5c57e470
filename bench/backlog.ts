// `node --import tsx bench/backlog.ts`: one backlog run of the enforcement pipeline (BENCH_RECORDS records of
// 1,000 customers whose consent is applied first), for CPU profiles (`node --cpu-prof --import tsx …`).
// Prints the rate and the decisions held and blocked unconfirmed.
import { randomUUID } from 'node:crypto';
import { openProducer, type OutRecord } from '../src/adapters/kafka.ts';
import { startEphemeralPipeline } from '../src/cli/ephemeralPipeline.ts';
import { conversationRecord } from '../src/demo/traffic.ts';
import { mulberry32 } from '../src/simulator/ids.ts';

const N = Number(process.env.BENCH_RECORDS ?? 100_000);
const run = await startEphemeralPipeline({ name: 'backlog', topicPrefix: `backlog-${randomUUID().slice(0, 8)}.`, log: console.log });
const { kafka, topology, serdes, engine } = run.pipeline;
const name = (l: string) => topology.topic(l).name;
const rand = mulberry32(7);
const customers = Array.from({ length: 1000 }, (_, i) => `bc-${i}`);
const conv = serdes.forTopic('genesys.conversations');
const ce = serdes.forTopic('consent.events');
const producer = await openProducer(kafka);
await producer.send(customers.map((c, i) => ({
  topic: name('consent.events'), key: c,
  value: ce.encode({ eventId: `e-${c}`, customerId: c, capturedAt: Date.now(), source: 'IMPORT', purposes: [
    { purpose: 'MARKETING', granted: i % 3 !== 0, channel: null }, { purpose: 'ANALYTICS', granted: true, channel: null }, { purpose: 'THIRD_PARTY', granted: i % 2 === 0, channel: null }] }),
})));
for (let i = 0; i < N; i += 1000) {
  const chunk: OutRecord[] = [];
  for (let j = i; j < Math.min(N, i + 1000); j++) {
    const c = customers[j % customers.length]!;
    chunk.push({ topic: name('genesys.conversations'), key: c, value: conv.encode(conversationRecord(rand, j, c, Date.now())) });
  }
  await producer.send(chunk);
}
await producer.close();
const t0 = performance.now();
await engine.start();
while (engine.metrics.processedRecords < N + customers.length) await new Promise((r) => setTimeout(r, 20));
const ms = performance.now() - t0;
console.log(`backlog: ${N} records in ${(ms / 1000).toFixed(1)} s = ${Math.round((N / ms) * 1000)} records/s (restore and start included); held ${engine.metrics.held}, blocked unconfirmed ${engine.metrics.unconfirmed}, ${engine.metrics.committedTransactions} transactions`);
await run.stop();
process.exit(0);
