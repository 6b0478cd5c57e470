import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { after, describe, it } from 'node:test';
import { createLogger } from '../../src/adapters/logger.ts';
import type { Pipeline } from '../../src/app.ts';
import { evaluate } from '../../src/domain/policy.ts';
import { applyConsentEvent } from '../../src/domain/consentState.ts';
import type { ConsentState, ConversationRecord, Decision, Purpose } from '../../src/domain/types.ts';
import { WorkerPool } from '../../src/workers.ts';
import { conversation, startPipeline, testConfig, testEnv, TopicClient, waitFor } from '../harness/pipeline.ts';

// Guarantee 3 under load: failing closed costs latency, never a permitted record. A backlog decided while another
// process burns a core, and a worker SIGKILLed mid-backlog, must leave every record decided exactly once per sink,
// none CONSENT_UNCONFIRMED, and every record the policy permits in its sink.
const CUSTOMERS = Array.from({ length: 60 }, (_, i) => `bl-${i}`);
const grants = (i: number): Record<Purpose, boolean> => ({ MARKETING: i % 3 !== 0, ANALYTICS: true, THIRD_PARTY: i % 2 === 0 });

const cleanup: (() => Promise<void>)[] = [];
after(async () => {
  for (const f of cleanup.reverse()) await f().catch(() => {});
});

/** A process that keeps one core busy until killed. */
function cpuHog(): ChildProcess {
  const hog = spawn(process.execPath, ['-e', 'const end = Date.now() + 600000; while (Date.now() < end) {}'], { stdio: 'ignore' });
  cleanup.push(async () => void hog.kill('SIGKILL'));
  return hog;
}

/** Topics and consent for CUSTOMERS, then `n` records produced as a backlog; the pipeline used for it is stopped. */
async function backlog(prefix: string, n: number): Promise<{ client: TopicClient; records: ConversationRecord[]; setup: Pipeline; states: Map<string, ConsentState> }> {
  const setup = await startPipeline(testConfig(prefix));
  cleanup.push(() => setup.stop());
  const client = await TopicClient.open(setup);
  const states = new Map<string, ConsentState>();
  for (const [i, id] of CUSTOMERS.entries()) states.set(id, applyConsentEvent(undefined, await client.consent(id, grants(i)), Date.now()).state!);
  await waitFor('consent applied', () => setup.engine.metrics.processedRecords >= CUSTOMERS.length);
  await setup.engine.stop();
  const records = Array.from({ length: n }, (_, i) => conversation(CUSTOMERS[i % CUSTOMERS.length]!));
  const serde = setup.serdes.forTopic('genesys.conversations');
  for (let i = 0; i < n; i += 1000) {
    await client.send(records.slice(i, i + 1000).map((r) => ({ topic: client.name('genesys.conversations'), key: r.customerId, value: serde.encode(r) })));
  }
  cleanup.push(() => client.close());
  return { client, records, setup, states };
}

/** Exactly one decision per record and sink, none unconfirmed, each as the policy says, and the sinks hold exactly the forwarded records. */
async function assertEveryPermittedRecordDelivered({ client, setup, records, states }: Awaited<ReturnType<typeof backlog>>): Promise<void> {
  const sinks = setup.policy.sinks;
  await waitFor('every record decided', async () => (await client.read('audit.decisions')).length >= records.length * sinks.length, 180_000);
  await new Promise((r) => setTimeout(r, 1000));
  const decisions = (await client.read<Decision>('audit.decisions')).map((d) => d.value);
  assert.equal(decisions.length, records.length * sinks.length, 'one decision per record and sink, no more');
  const byKey = new Map(decisions.map((d) => [`${d.recordId}/${d.sink}`, d]));
  assert.equal(byKey.size, decisions.length, 'no duplicate decision');
  assert.equal(decisions.filter((d) => d.reason === 'CONSENT_UNCONFIRMED').length, 0, 'no record lost to CONSENT_UNCONFIRMED');
  for (const sink of sinks) {
    const permitted = records.filter((r) => evaluate(sink, r, states.get(r.customerId!)).kind === 'forward').map((r) => r.recordId);
    const forwarded = records.filter((r) => byKey.get(`${r.recordId}/${sink.name}`)!.outcome === 'FORWARDED').map((r) => r.recordId);
    assert.deepEqual(forwarded, permitted, `every record permitted for ${sink.name} is forwarded, and only those`);
    const inSink = (await client.read<{ recordId: string }>(`sink.${sink.name}`)).map((r) => r.value.recordId);
    assert.deepEqual([...inSink].sort(), [...permitted].sort(), `sink.${sink.name} holds exactly the permitted records`);
  }
}

describe('backlogs under load', () => {
  it('a backlog decided while a CPU hog runs beside the pipeline: no CONSENT_UNCONFIRMED, every permitted record in its sink', async () => {
    const prefix = `bl${randomUUID().slice(0, 8)}.`;
    const b = await backlog(prefix, 20_000);
    const hog = cpuHog();
    const p = await startPipeline(testConfig(prefix));
    cleanup.push(() => p.stop());
    await assertEveryPermittedRecordDelivered(b);
    hog.kill('SIGKILL');
    assert.equal(p.engine.metrics.unconfirmed, 0);
    console.log(`backlog of ${b.records.length} with a CPU hog: ${p.engine.metrics.held} records held at some point, 0 blocked unconfirmed`);
  });

  it('run with two workers: one SIGKILLed mid-backlog is restarted; nothing lost, nothing duplicated (read_committed)', async () => {
    const prefix = `wk${randomUUID().slice(0, 8)}.`;
    const b = await backlog(prefix, 20_000);
    const env = { ...process.env, ...testEnv(prefix) };
    const pool = new WorkerPool({ workers: 2, env, logger: createLogger('warn') });
    cleanup.push(() => pool.stop());
    pool.start();
    await waitFor('both workers own partitions', () => pool.ready && new Set(pool.metrics.assignedPartitions).size === 6 && pool.metrics.assignedPartitions.length === 6, 90_000);
    await waitFor('some decisions committed', () => pool.metrics.processedRecords > 2000, 90_000);
    const victim = pool.pids.get(0)!;
    process.kill(victim, 'SIGKILL');
    await waitFor('the killed worker restarted', () => pool.restarts === 1 && pool.pids.get(0) !== victim, 30_000);
    await assertEveryPermittedRecordDelivered(b);
    assert.equal(pool.metrics.unconfirmed, 0);
  });
});
