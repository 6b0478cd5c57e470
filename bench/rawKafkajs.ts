// The raw round trip with kafkajs exactly as published (none of consentgate's patches, which src/adapters/kafka.ts
// installs in any process that imports it): started by bench.ts as a process of its own. Reads the records from
// the file bench.ts wrote (key length, key, value length, value, as uint32 lengths), produces them to TOPIC as
// bench.ts' own raw run does (idempotent, acks all, 1,000 a request, 8 requests in flight), consumes them back with
// a read_committed consumer, and prints {"rate", "produceRate"} as JSON.
import { readFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { Kafka, logLevel, Partitioners } from 'kafkajs';

const [file, topic, brokers] = process.argv.slice(2) as [string, string, string];
const bytes = readFileSync(file);
const messages: { key: Buffer; value: Buffer }[] = [];
for (let at = 0; at < bytes.length;) {
  const keyLength = bytes.readUInt32BE(at);
  const key = bytes.subarray(at + 4, at + 4 + keyLength);
  at += 4 + keyLength;
  const valueLength = bytes.readUInt32BE(at);
  messages.push({ key, value: bytes.subarray(at + 4, at + 4 + valueLength) });
  at += 4 + valueLength;
}
const kafka = new Kafka({ clientId: 'bench-raw-stock', brokers: brokers.split(','), logLevel: logLevel.NOTHING }); // the broker may still be loading coordinators: kafkajs retries, and says so at ERROR
const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 5, createPartitioner: Partitioners.DefaultPartitioner });
await producer.connect();
const t0 = performance.now();
const inflight: Promise<unknown>[] = [];
for (let i = 0; i < messages.length; i += 1000) {
  inflight.push(producer.sendBatch({ acks: -1, topicMessages: [{ topic, messages: messages.slice(i, i + 1000) }] }));
  if (inflight.length >= 8) await inflight.shift();
}
await Promise.all(inflight);
const produced = performance.now();
await producer.disconnect();
const consumer = kafka.consumer({ groupId: `bench-raw-${randomUUID()}`, maxWaitTimeInMs: 100 });
await consumer.connect();
await consumer.subscribe({ topic, fromBeginning: true });
let consumed = 0;
await new Promise<void>((done) => void consumer.run({ autoCommit: false, eachBatch: async ({ batch }) => { consumed += batch.messages.length; if (consumed >= messages.length) done(); } }));
const total = performance.now() - t0;
await consumer.disconnect();
console.log(JSON.stringify({ rate: Math.round(messages.length / (total / 1000)), produceRate: Math.round(messages.length / ((produced - t0) / 1000)) }));
