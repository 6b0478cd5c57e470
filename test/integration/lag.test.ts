import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { resolve } from 'node:path';
import { after, it } from 'node:test';
import { promisify } from 'node:util';
import { PROJECT_ROOT, type Pipeline } from '../../src/app.ts';
import { conversation, startPipeline, testConfig, testEnv, TopicClient, waitFor } from '../harness/pipeline.ts';

// `consentgate lag` on the real broker, against transactional input: exact record and time lag, 0 (not 1) for a
// fully processed partition — also for a plain consumer that commits before the commit marker — and its exit code.
const cleanups: (() => Promise<void> | void)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await Promise.resolve(c()).catch(() => {});
});

type Row = { topic: string; partition: number; committed: string | null; end: string; lag: number; lagSeconds: number; exact: boolean; status: string };
async function lag(prefix: string, args: string[]): Promise<{ code: number; out: { group: string; members: number; partitions: Row[] } }> {
  try {
    const { stdout } = await promisify(execFile)(process.execPath, [resolve(PROJECT_ROOT, 'bin/consentgate.js'), 'lag', '--json', ...args], { env: { ...process.env, ...testEnv(prefix) } });
    return { code: 0, out: JSON.parse(stdout) };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    if (!e.stdout) throw new Error(`lag failed (${e.code}): ${e.stderr}`);
    return { code: e.code, out: JSON.parse(e.stdout) };
  }
}

it('lag is exact under exactly-once: 0 when processed (not 1), the records and age of what waits, and exit 1 past the threshold', async () => {
  const config = testConfig();
  const prefix = config.topicPrefix;
  let pipeline: Pipeline | undefined = await startPipeline(config);
  cleanups.push(() => pipeline?.stop());
  const client = await TopicClient.open(pipeline);
  cleanups.push(() => client.close());
  const kafka = pipeline.kafka;
  const producer = kafka.producer({ transactionalId: `${prefix}lag-test`, idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  cleanups.push(() => producer.disconnect());
  const conversations = client.name('genesys.conversations');
  const serde = pipeline.serdes.forTopic('genesys.conversations');
  /** Sends `n` records in one transaction; how many went to each partition. */
  const send = async (n: number) => {
    const tx = await producer.transaction();
    const perPartition = new Map<number, number>();
    for (let i = 0; i < n; i++) {
      const c = `c-${randomUUID()}`;
      const [meta] = await tx.send({ topic: conversations, messages: [{ key: c, value: serde.encode(conversation(c)) }] });
      perPartition.set(meta!.partition, (perPartition.get(meta!.partition) ?? 0) + 1);
    }
    await tx.commit();
    return perPartition;
  };

  await send(40);
  await waitFor('decided', async () => (await client.read('audit.decisions')).length === 120, 60_000);
  const caughtUp = await lag(prefix, []);
  assert.equal(caughtUp.code, 0);
  assert.equal(caughtUp.out.group, `${prefix}consentgate`);
  const rows = caughtUp.out.partitions.filter((r) => r.topic === conversations && BigInt(r.end) > 0n);
  assert.ok(rows.length >= 1);
  for (const r of rows) assert.deepEqual([r.lag, r.lagSeconds, r.exact, r.status], [0, 0, true, 'OK'], `partition ${r.partition} is fully processed`);

  // A downstream consumer that commits each record's offset + 1 (before the commit marker, as kafkajs does): still 0.
  const downstream = kafka.consumer({ groupId: `${prefix}downstream`, readUncommitted: false });
  await downstream.connect();
  cleanups.push(() => downstream.disconnect());
  await downstream.subscribe({ topic: client.name('audit.decisions'), fromBeginning: true });
  let seen = 0;
  await downstream.run({ eachMessage: async () => void seen++ });
  await waitFor('downstream read the decisions', () => seen === 120, 30_000);
  await downstream.stop();
  const plain = await lag(prefix, ['--group', `${prefix}downstream`]);
  const behindMarker = plain.out.partitions.filter((r) => r.committed !== null && BigInt(r.end) - BigInt(r.committed) === 1n);
  assert.ok(behindMarker.length >= 1, 'the usual end − committed would say 1 for these');
  for (const r of plain.out.partitions) assert.equal(r.lag, 0, `partition ${r.partition}: only a commit marker lies past the committed offset`);

  // The pipeline stops; 30 more records wait. Lag counts exactly those, and their age; no members: STOP, exit 1.
  await pipeline.stop();
  pipeline = undefined;
  const waiting = await send(30);
  await new Promise((r) => setTimeout(r, 1500));
  const stopped = await lag(prefix, ['--max-lag-seconds', '1']);
  assert.equal(stopped.code, 1);
  assert.equal(stopped.out.members, 0);
  for (const r of stopped.out.partitions.filter((x) => x.topic === conversations)) {
    const expected = waiting.get(r.partition) ?? 0;
    assert.equal(r.lag, expected, `partition ${r.partition}`);
    assert.equal(r.exact, true);
    if (expected > 0) {
      assert.ok(r.lagSeconds >= 1.5 && r.lagSeconds < 60, `age of the first waiting record: ${r.lagSeconds}`);
      assert.equal(r.status, 'STOP');
    }
  }
});
