import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { it } from 'node:test';
import { randomUUID } from 'node:crypto';
import { committedOffsets, createKafka, EndOffsetReader, PARTITIONS_FETCHED, TaskProducer, type FetchedEnds } from '../../src/adapters/kafka.ts';
import { createLogger } from '../../src/adapters/logger.ts';
import { readTopic } from '../../src/adapters/topicReader.ts';
import type { Decision } from '../../src/domain/types.ts';
import { conversation, startPipeline, testConfig, testEnv, TopicClient, waitFor } from '../harness/pipeline.ts';

it('a task producer fences the previous owner of its transactional id before open() returns: the old one commits nothing after', async () => {
  const prefix = `fence${randomUUID().slice(0, 8)}.`;
  const config = testConfig(prefix);
  const kafka = createKafka(config.kafka, createLogger('warn'));
  const admin = kafka.admin();
  await admin.connect();
  const topic = `${prefix}out`;
  const group = `${prefix}group`;
  await admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: true });
  const id = `${prefix}task-0`;
  const previous = await TaskProducer.open(kafka, id);
  const next = await TaskProducer.open(kafka, id);
  try {
    // The new owner reads the committed offsets now; nothing the previous owner does afterwards may change them.
    const atStart = await committedOffsets(admin, group, [topic]);
    await assert.rejects(
      previous.commit([{ topic, key: 'k', value: Buffer.from('zombie'), partition: 0 }], group, [{ topic, partition: 0, offset: '7' }]),
      { code: 'PRODUCER_FENCED' },
    );
    assert.deepEqual(await committedOffsets(admin, group, [topic]), atStart, 'the fenced owner committed no offsets');
    await next.commit([{ topic, key: 'k', value: Buffer.from('owner'), partition: 0 }], group, [{ topic, partition: 0, offset: '3' }]);
    assert.deepEqual((await readTopic(kafka, topic)).map((r) => r.value?.toString()), ['owner'], 'only the owner\'s record is committed');
    assert.equal((await committedOffsets(admin, group, [topic])).get(`${topic}:0`), 3n);
  } finally {
    await previous.close();
    await next.close();
    await admin.deleteTopics({ topics: [topic] }).catch(() => {});
    await admin.disconnect();
  }
});

it('a read_committed reader sees no aborted record when two producers\' aborted transactions interleave in a partition', async () => {
  const prefix = `abort${randomUUID().slice(0, 8)}.`;
  const kafka = createKafka(testConfig(prefix).kafka, createLogger('warn'));
  const admin = kafka.admin();
  await admin.connect();
  const topic = `${prefix}out`;
  await admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: true });
  const [a, b, c] = ['a', 'b', 'c'].map((id) => kafka.producer({ transactionalId: `${prefix}${id}`, maxInFlightRequests: 1 }));
  const producers = [a!, b!, c!];
  await Promise.all(producers.map((p) => p.connect()));
  try {
    // a's transaction starts first and is aborted last: a1 (offset 0), b1 (1), b's abort marker (2), a's (3), then c.
    const ta = await a!.transaction();
    await ta.send({ topic, messages: [{ value: 'a1', partition: 0 }] });
    const tb = await b!.transaction();
    await tb.send({ topic, messages: [{ value: 'b1', partition: 0 }] });
    await tb.abort();
    await ta.abort();
    const tc = await c!.transaction();
    await tc.send({ topic, messages: [{ value: 'c', partition: 0 }] });
    await tc.commit();
    assert.deepEqual((await readTopic(kafka, topic)).map((r) => r.value?.toString()), ['c']);
  } finally {
    for (const p of producers) await p.disconnect();
    await admin.deleteTopics({ topics: [topic] }).catch(() => {});
    await admin.disconnect();
  }
});

it("a consumer's fetches report each partition's last stable offset, as ListOffsets does: below an open transaction until it ends", async () => {
  const prefix = `lso${randomUUID().slice(0, 8)}.`;
  const kafka = createKafka(testConfig(prefix).kafka, createLogger('warn'));
  const admin = kafka.admin();
  await admin.connect();
  const topic = `${prefix}in`;
  await admin.createTopics({ topics: [{ topic, numPartitions: 2 }], waitForLeaders: true });
  const producer = kafka.producer({ transactionalId: `${prefix}tx`, maxInFlightRequests: 1 });
  await producer.connect();
  const consumer = kafka.consumer({ groupId: `${prefix}group`, readUncommitted: false, maxWaitTimeInMs: 100 });
  const reports: FetchedEnds[] = [];
  consumer.on(PARTITIONS_FETCHED as typeof consumer.events.FETCH, (e) => void reports.push(e.payload as unknown as FetchedEnds));
  const lookUp = new EndOffsetReader(kafka, [topic]);
  const reported = async (partition: number, since: number) => {
    const t0 = Date.now();
    for (;;) {
      const r = reports.filter((x) => x.sentAt >= since).flatMap((x) => x.partitions).find((x) => x.topic === topic && x.partition === partition);
      if (r) return BigInt(r.lastStableOffset!);
      if (Date.now() - t0 > 10_000) throw new Error('no fetch reported the partition');
      await new Promise((res) => setTimeout(res, 20));
    }
  };
  try {
    const committed = await producer.transaction();
    await committed.send({ topic, messages: [{ value: 'x', partition: 0 }, { value: 'y', partition: 0 }] });
    await committed.commit();
    const open = await producer.transaction();
    await open.send({ topic, messages: [{ value: 'z', partition: 0 }, { value: 'w', partition: 1 }] });
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({ eachBatch: async () => {} });
    const whileOpen = performance.now();
    // Partition 0: two records and a commit marker (0-2) are stable; the open transaction's record (3) is not.
    assert.equal(await reported(0, whileOpen), 3n);
    assert.equal(await reported(1, whileOpen), 0n);
    assert.equal((await lookUp.read()).get(`${topic}:0`), 3n, 'ListOffsets (read_committed) says the same');
    await open.commit();
    const afterCommit = performance.now();
    assert.equal(await reported(0, afterCommit), 5n, 'the record and its commit marker');
    assert.equal(await reported(1, afterCommit), 2n);
  } finally {
    await consumer.disconnect();
    await producer.disconnect();
    await lookUp.close();
    await admin.deleteTopics({ topics: [topic] }).catch(() => {});
    await admin.disconnect();
  }
});

it('a task fenced while its instance still owns the partition (an earlier owner that opened late): the instance rejoins and decides every record once', async () => {
  const p = await startPipeline(testConfig(`late${randomUUID().slice(0, 8)}.`));
  const errors: Error[] = [];
  p.engine.on('error', (e: Error) => errors.push(e));
  const client = await TopicClient.open(p);
  const customers = Array.from({ length: 30 }, (_, i) => `late-${i}`);
  for (const id of customers) await client.consent(id, { MARKETING: true, ANALYTICS: true });
  const send = async (n: number) => {
    const records = Array.from({ length: n }, (_, i) => conversation(customers[i % customers.length]!));
    const ser = p.serdes.forTopic('genesys.conversations');
    await client.send(records.map((r) => ({ topic: client.name('genesys.conversations'), key: r.customerId, value: ser.encode(r) })));
    return records;
  };
  const first = await send(300);
  await waitFor('the first records decided', async () => (await client.read('audit.decisions')).length >= first.length * 3, 60_000);
  // Every task's transactional id opened elsewhere, as a revoked owner's start that completes late would.
  const partitions = p.topology.topic('genesys.conversations').partitions;
  for (let i = 0; i < partitions; i++) await (await TaskProducer.open(p.kafka, `${p.topology.applicationId}-${i}`)).close();
  const second = await send(300);
  await waitFor('every record decided', async () => (await client.read('audit.decisions')).length >= (first.length + second.length) * 3, 90_000);
  await new Promise((r) => setTimeout(r, 1000));
  const decisions = (await client.read<Decision>('audit.decisions')).map((d) => d.value);
  assert.equal(new Set(decisions.map((d) => `${d.recordId}/${d.sink}`)).size, decisions.length, 'no duplicate decision');
  assert.deepEqual(new Set(decisions.map((d) => d.recordId)), new Set([...first, ...second].map((r) => r.recordId)));
  assert.equal(decisions.length, (first.length + second.length) * 3);
  assert.deepEqual(errors, [], 'the engine recovered without an error');
  await client.close();
  await p.stop();
});

it('a processor killed mid-stream and restarted gives every input exactly one decision per sink', async () => {
  const prefix = `eos${randomUUID().slice(0, 8)}.`;
  const config = testConfig(prefix);
  // The test side: applies topics and reads outputs; the pipeline under test runs in a child process we SIGKILL.
  const first = await startPipeline(config);
  const c = await TopicClient.open(first);
  const customers = Array.from({ length: 40 }, (_, i) => `k${i}`);
  for (const id of customers) await c.consent(id, { MARKETING: true, ANALYTICS: id.endsWith('1') ? false : true });
  await c.close();
  await first.stop();

  const env = { ...process.env, ...testEnv(prefix) };
  const child = spawn(process.execPath, [join(import.meta.dirname, '../../bin/consentgate.js'), 'run'], { env, stdio: ['ignore', 'ignore', 'inherit'] });

  const second = await startPipeline(testConfig(prefix)).catch((e) => { child.kill('SIGKILL'); throw e; });
  // `second` shares the group with the child: wait until the child owns partitions, so the kill hits real work.
  await waitFor('the child to join the group', () => second.engine.metrics.assignedPartitions.length < second.topology.topic('consent.events').partitions, 60_000)
    .catch((e) => { child.kill('SIGKILL'); throw e; });
  const client = await TopicClient.open(second);
  const total = 3000;
  const records = Array.from({ length: total }, (_, i) => conversation(customers[i % customers.length]!));
  const ser = second.serdes.forTopic('genesys.conversations');
  let sent = 0;
  for (let i = 0; i < total; i += 100) {
    await client.send(records.slice(i, i + 100).map((r) => ({ topic: client.name('genesys.conversations'), key: r.customerId, value: ser.encode(r) })));
    sent += 100;
    if (sent === 1000) {
      // Kill while the child is mid-stream: some of its partitions have decisions committed, some not yet.
      await waitFor('the child to commit some decisions', async () => (await client.read('audit.decisions')).length >= 900, 60_000);
      child.kill('SIGKILL');
    }
  }
  await waitFor('every record decided', async () => (await client.read('audit.decisions')).length >= total * 3, 120_000);
  await new Promise((r) => setTimeout(r, 1000));
  const decisions = (await client.read<Decision>('audit.decisions')).map((d) => d.value);
  const counts = new Map<string, number>();
  for (const d of decisions) counts.set(`${d.recordId}/${d.sink}`, (counts.get(`${d.recordId}/${d.sink}`) ?? 0) + 1);
  const missing = records.flatMap((r) => ['crm', 'analytics', 'thirdparty'].filter((s) => !counts.has(`${r.recordId}/${s}`)));
  const duplicated = [...counts].filter(([, n]) => n > 1);
  assert.deepEqual({ missing: missing.length, duplicated: duplicated.length }, { missing: 0, duplicated: 0 });
  assert.equal(decisions.length, total * 3);
  // Forwarded records match forwarded decisions one to one.
  const forwarded = decisions.filter((d) => d.sink === 'crm' && d.outcome === 'FORWARDED').length;
  assert.equal((await client.read('sink.crm')).length, forwarded);
  await client.close();
  await second.stop();
});
