import { openProducer, type OutRecord } from '../adapters/kafka.ts';
import { readTopic } from '../adapters/topicReader.ts';
import type { Decision } from '../domain/types.ts';
import { startEphemeralPipeline } from './ephemeralPipeline.ts';
import { consentEvent, conversationRecord, initialGrants, seeded } from '../demo/traffic.ts';

const CUSTOMERS = Number(process.env.DEMO_CUSTOMERS ?? 200);
const RECORDS = Number(process.env.DEMO_RECORDS ?? 4000);

const say = (msg: string) => console.log(msg);

/**
 * `npm run demo`: local stack (unless KAFKA_BROKERS is set) → topics → pipeline → synthetic traffic with opt-ins,
 * opt-outs mid-stream, records without a subject, unknown customers and malformed bytes → summary.
 */
export async function runDemo(): Promise<void> {
  const { pipeline, config, stop } = await startEphemeralPipeline({
    name: 'demo',
    topicPrefix: process.env.CONSENTGATE_TOPIC_PREFIX ?? `demo-${Date.now()}.`,
    log: say,
  });
  try {
    const { topology, serdes, engine, kafka } = pipeline;
    say(`topics applied with prefix "${config.topicPrefix}"; starting the pipeline`);
    await engine.start();

    const rand = seeded(42);
    const producer = await openProducer(kafka);
    const t = (l: string) => topology.topic(l).name;
    const ce = serdes.forTopic('consent.events');
    const cr = serdes.forTopic('genesys.conversations');
    const customers = Array.from({ length: CUSTOMERS }, (_, i) => `cust-${i}`);
    const base = Date.now();
    await producer.send(customers.map((c, i) => ({ topic: t('consent.events'), key: c, value: ce.encode(consentEvent(rand, c, base + i, initialGrants(rand))) })));
    say(`sent ${CUSTOMERS} initial consent events`);

    const optedOut = new Set<string>();
    let malformed = 0;
    for (let i = 0; i < RECORDS; i += 100) {
      const batch: OutRecord[] = [];
      for (let j = i; j < Math.min(RECORDS, i + 100); j++) {
        const roll = rand();
        if (roll < 0.01) {
          malformed++;
          batch.push({ topic: t('genesys.conversations'), key: 'garbage', value: Buffer.from('{"not":"avro"}') });
          continue;
        }
        const customer = roll < 0.05 ? null : roll < 0.08 ? `stranger-${j}` : customers[Math.floor(rand() * CUSTOMERS)]!;
        batch.push({ topic: t('genesys.conversations'), key: customer ?? `anon-${j}`, value: cr.encode(conversationRecord(rand, j, customer, Date.now())) });
      }
      await producer.send(batch);
      if (i === Math.floor(RECORDS / 2 / 100) * 100) {
        // Mid-stream: a fifth of the customers withdraw marketing consent.
        const outs = customers.filter(() => rand() < 0.2);
        outs.forEach((c) => optedOut.add(c));
        await producer.send(outs.map((c) => ({ topic: t('consent.events'), key: c, value: ce.encode(consentEvent(rand, c, Date.now(), { MARKETING: false })) })));
        say(`${outs.length} customers opted out of MARKETING mid-stream`);
      }
    }
    await producer.close();
    say(`sent ${RECORDS} conversation records (${malformed} malformed); waiting for the pipeline…`);
    const total = CUSTOMERS + optedOut.size + RECORDS;
    const started = Date.now();
    let lastReport = 0;
    while (engine.metrics.processedRecords < total && Date.now() - started < 120_000) {
      if (Date.now() - lastReport > 2000) {
        say(`  processed ${engine.metrics.processedRecords}/${total}`);
        lastReport = Date.now();
      }
      await new Promise((r) => setTimeout(r, 200));
    }
    const seconds = (Date.now() - started) / 1000;
    const decisions = await Promise.all((await readTopic(kafka, t('audit.decisions'))).map((r) => serdes.forTopic<Decision>('audit.decisions').decode(r.value)));
    const dlq = await readTopic(kafka, t('dlq'));
    const summary = new Map<string, number>();
    for (const d of decisions) {
      const k = `${d.sink.padEnd(11)} ${d.outcome.padEnd(9)} ${d.reason}`;
      summary.set(k, (summary.get(k) ?? 0) + 1);
    }
    say('');
    say(`in: ${RECORDS} records, ${CUSTOMERS + optedOut.size} consent events; decided in ${seconds.toFixed(1)} s`);
    say('sink        outcome   reason                 count');
    for (const [k, n] of [...summary].sort()) say(`${k.padEnd(46)} ${n}`);
    say(`dead-lettered: ${dlq.length} (malformed sent: ${malformed})`);
    for (const s of topology.sinks.values()) say(`${s.name}: ${(await readTopic(kafka, s.name)).length} records`);
  } finally {
    await stop();
  }
}
