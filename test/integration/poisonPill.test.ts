import assert from 'node:assert/strict';
import { after, it } from 'node:test';
import type { ConsentEvent, ConversationRecord, Decision } from '../../src/domain/types.ts';
import { recordBatchBytes } from '../../src/runtime/records.ts';
import type { DeadLetterValue } from '../../src/runtime/task.ts';
import { conversation, startPipeline, testConfig, TopicClient, waitFor } from '../harness/pipeline.ts';

// Guarantee: no record can stop a partition. Records just under, at and over the broker's limit (the default
// message.max.bytes, 1,048,588 bytes) on every input topic the pipeline decodes, between ordinary records of the same
// partition: the broker refuses the ones over it, and every other record is decided once or dead-lettered once.
const LIMIT = 1_048_588;

/** Bytes of a signed (zigzag) varint. */
function varintBytes(n: number): number {
  let z = n >= 0 ? 2 * n : -2 * n - 1;
  let bytes = 1;
  while (z >= 128) {
    z = Math.floor(z / 128);
    bytes++;
  }
  return bytes;
}

/** What the broker counts for a batch of this one record, no headers (v2 format: 61-byte header, then the record). */
function batchBytes(key: Buffer, value: Buffer): number {
  const body = 1 + 1 + 1 + varintBytes(key.length) + key.length + varintBytes(value.length) + value.length + 1;
  return 61 + varintBytes(body) + body;
}
const cleanups: (() => Promise<void>)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => {});
});

/** A pipeline on fresh topics, customer c1 granting every purpose; `failed()` is the task failure, if any. */
async function grantedRig() {
  const pipeline = await startPipeline(testConfig());
  const client = await TopicClient.open(pipeline);
  cleanups.push(() => client.close(), () => pipeline.stop());
  let failed: Error | undefined;
  pipeline.engine.on('error', (err: Error) => (failed = err));
  await client.consent('c1', { MARKETING: true, ANALYTICS: true, THIRD_PARTY: true });
  return { pipeline, client, failed: () => failed };
}

it('records just under, at and over the broker limit on each input topic neither stop nor lose the records around them', async () => {
  const { pipeline, client, failed } = await grantedRig();

  /** An encoded record of `logical` whose batch takes exactly `bytes` (padding in a string field). */
  const sized = (logical: string, bytes: number): { value: Buffer; id: string } => {
    const serde = pipeline.serdes.forTopic(logical);
    const make = (pad: number): { v: object; id: string } => {
      if (logical === 'consent.events') {
        const e: ConsentEvent = { eventId: 'e'.repeat(pad), customerId: 'c1', capturedAt: Date.now(), source: 'WEB', purposes: [{ purpose: 'MARKETING', granted: true, channel: null }] };
        return { v: e, id: e.eventId };
      }
      const r = conversation('c1', { attributes: { note: 'x'.repeat(pad) } });
      return { v: logical === 'genesys.exports' ? { ...r, exportJobId: 'job-1', exportVersion: 1 } : r, id: r.recordId };
    };
    // The Avro length prefix of the padding grows by a byte now and then: converge on the exact size.
    const key = Buffer.from('c1');
    let pad = bytes - batchBytes(key, serde.encode(make(0).v));
    for (;;) {
      const m = make(pad);
      const value = serde.encode(m.v);
      const size = batchBytes(key, value);
      if (size === bytes) return { value, id: m.id };
      pad += bytes - size;
    }
  };

  const ordinary: string[] = [];
  const big: { topic: string; id: string; bytes: number }[] = [];
  for (const logical of ['genesys.conversations', 'genesys.exports', 'consent.events']) {
    const topic = client.name(logical);
    for (const bytes of [LIMIT - 100_000, LIMIT, LIMIT + 1]) {
      const before = await client.record('c1');
      ordinary.push(before.recordId);
      const { value, id } = sized(logical, bytes);
      const sent = client.send([{ topic, key: 'c1', value }]);
      if (bytes > LIMIT) await assert.rejects(sent, /larger than the max message size|MESSAGE_TOO_LARGE|too large/i, `${logical}: the broker refuses ${bytes} bytes`);
      else {
        await sent;
        big.push({ topic: logical, id, bytes });
      }
    }
  }
  const last = await client.record('c1');
  ordinary.push(last.recordId);

  const decisions = async () => (await client.read<Decision>('audit.decisions')).map((d) => d.value);
  await waitFor('every ordinary record decided', async () => {
    const ds = await decisions();
    return ordinary.every((id) => ds.filter((d) => d.recordId === id).length === 3);
  }, 120_000);
  const ds = await decisions();
  for (const id of ordinary) assert.equal(ds.filter((d) => d.recordId === id).length, 3, `${id}: once per sink`);

  // Each big record that reached the pipeline: decided once per sink, or dead-lettered once, and no dead letter is
  // larger than the dlq accepts.
  const dead = await client.read<DeadLetterValue>('dlq');
  for (const d of dead) assert.ok(recordBatchBytes(d.raw) <= LIMIT, `a ${recordBatchBytes(d.raw)}-byte dead letter`);
  const state = await client.read<{ customerId: string }>('consent.state');
  for (const b of big) {
    const decided = ds.filter((d) => d.recordId === b.id).length;
    const deadLettered = dead.filter((d) => d.value.topic === client.name(b.topic) && (d.value.truncated?.valueBytes ?? d.value.value?.length ?? 0) > LIMIT - 200_000).length;
    if (b.topic === 'consent.events') continue; // counted below: a consent event has no decisions
    assert.equal(decided === 3 ? 0 : deadLettered, decided === 3 ? 0 : 1, `${b.topic} ${b.bytes} B: decided ${decided}, dead-lettered ${deadLettered}`);
  }
  // The big consent events carry ids over 256 characters: dead-lettered (VALIDATION_FAILED), each once.
  const deadConsent = dead.filter((d) => d.value.topic === client.name('consent.events'));
  assert.equal(deadConsent.length, 2);
  assert.ok(deadConsent.every((d) => d.value.errorCode === 'VALIDATION_FAILED'));
  assert.ok(deadConsent.some((d) => d.value.truncated !== null), 'the one at the limit is cut to fit the dlq, and says so');
  assert.ok(state.some((s) => s.value.customerId === 'c1'));
  assert.equal(failed(), undefined, 'no task failed');
  assert.deepEqual(pipeline.engine.metrics.unconfirmed, 0);
});

it('a topic limit lowered while the pipeline runs: the record the broker then refuses is bisected out and dead-lettered alone, the others decided once', async () => {
  const { pipeline, client, failed } = await grantedRig();
  // After the engine read the limits at start: its own size check cannot see this one coming.
  await pipeline.admin.alterConfigs({ validateOnly: false, resources: [{ type: 2, name: client.name('sink.crm'), configEntries: [{ name: 'max.message.bytes', value: '20000' }] }] });
  const records: ConversationRecord[] = [];
  for (let i = 0; i < 12; i++) records.push(await client.record('c1', i === 5 ? { attributes: { note: 'x'.repeat(30_000) } } : {}));
  const decisions = async () => (await client.read<Decision>('audit.decisions')).map((d) => d.value);
  await waitFor('every record decided or dead-lettered', async () => {
    const ds = await decisions();
    const dead = await client.read<DeadLetterValue>('dlq');
    return records.every((r, i) => (i === 5 ? dead.length === 1 : ds.filter((d) => d.recordId === r.recordId).length === 3));
  }, 120_000);
  const ds = await decisions();
  for (const [i, r] of records.entries()) assert.equal(ds.filter((d) => d.recordId === r.recordId).length, i === 5 ? 0 : 3, `record ${i}`);
  const [dead] = await client.read<DeadLetterValue>('dlq');
  assert.equal(dead!.value.errorCode, 'RECORD_REJECTED');
  assert.match(dead!.value.error, /MESSAGE_TOO_LARGE|RECORD_LIST_TOO_LARGE/);
  assert.equal(failed(), undefined, 'no task failed');
});
