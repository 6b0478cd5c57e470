import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import type { SinkRecord } from '../../src/domain/fieldRules.ts';
import type { Decision } from '../../src/domain/types.ts';
import { ConsentgateError } from '../../src/errors.ts';
import { recordBatchBytes } from '../../src/runtime/records.ts';
import type { DeadLetterValue } from '../../src/runtime/task.ts';
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import avro from 'avsc';
import { PROJECT_ROOT } from '../../src/app.ts';
import { conversation } from '../harness/pipeline.ts';
import { started, stopDrivers, TopologyDriver } from './driver.ts';

// The task of one partition, driven in memory: barrier, hold-and-release, restore, dead-lettering and commits.
const ALL = { MARKETING: true, ANALYTICS: true, THIRD_PARTY: true };
afterEach(stopDrivers);
const outcomes = (ds: Decision[], recordId: string) =>
  Object.fromEntries(ds.filter((x) => x.recordId === recordId).map((x) => [x.sink, `${x.outcome}:${x.reason}`]));
/** Blocks the event loop, as a busy process does (other tasks' cycles, GC). */
const busy = (ms: number) => {
  const end = performance.now() + ms;
  while (performance.now() < end);
};

describe('PartitionTask in memory', () => {
  it('decides each record once per sink against the table, and commits the input offsets with the outputs', async () => {
    const d = await started();
    d.consent('c1', { MARKETING: true, ANALYTICS: false, THIRD_PARTY: true });
    const r = d.record('c1');
    const unknown = d.record('nobody');
    await d.drained('genesys.conversations');
    const ds = await d.decisions();
    assert.deepEqual(outcomes(ds, r.recordId), { crm: 'FORWARDED:CONSENT_GRANTED', analytics: 'BLOCKED:CONSENT_WITHDRAWN', thirdparty: 'FORWARDED:CONSENT_GRANTED' });
    assert.deepEqual(outcomes(ds, unknown.recordId), { crm: 'BLOCKED:CONSENT_UNKNOWN', analytics: 'BLOCKED:CONSENT_UNKNOWN', thirdparty: 'BLOCKED:CONSENT_UNKNOWN' });
    assert.equal(ds.length, 6);
    assert.deepEqual((await d.output<SinkRecord>('sink.crm')).map((x) => x.recordId), [r.recordId]);
    assert.equal(d.committedOffset('consent.events'), 1n);
    // Every transaction that carried decisions also carried the offsets that cover their inputs.
    for (const t of d.producer.transactions) {
      if (t.records.some((x) => x.topic === d.name('audit.decisions'))) assert.ok(t.offsets.some((o) => o.topic === d.name('genesys.conversations')));
    }
  });

  it('holds a record while a consent event below the end offset is not fetched yet, then decides it against that event', async () => {
    const d = await started();
    d.consent('c1', ALL);
    await d.drained('consent.events');
    d.consent('c1', { MARKETING: false }, { deliver: false }); // acknowledged by the broker, not yet fetched
    const r = d.record('c1');
    await d.until('the record is held', () => d.held === 1);
    await new Promise((res) => setTimeout(res, 60)); // several attempts of 20 ms
    assert.equal((await d.decisions()).filter((x) => x.recordId === r.recordId).length, 0, 'not decided while held');
    assert.equal(d.task.heldRecords, 1);
    d.deliver('consent.events');
    await d.drained('genesys.conversations');
    const ds = await d.decisions();
    assert.deepEqual(outcomes(ds, r.recordId), { crm: 'BLOCKED:CONSENT_WITHDRAWN', analytics: 'FORWARDED:CONSENT_GRANTED', thirdparty: 'FORWARDED:CONSENT_GRANTED' });
    assert.equal(d.unconfirmed, 0);
    assert.equal(d.task.heldRecords, 0);
  });

  it('starts the end-offset look-up when a record arrives, while the previous transaction commits, and decides the record with it', async () => {
    const d = await started({ consentWaitMs: 500 });
    d.consent('c1', ALL);
    await d.drained('consent.events');
    d.producer.delayMs = 100;
    d.record('c1');
    await new Promise((res) => setTimeout(res, 30));
    const committed = d.producer.transactions.length;
    const before = d.endOffsetRequests;
    d.consent('c1', { MARKETING: false }, { deliver: false }); // acknowledged, not fetched yet
    const late = d.record('c1'); // produced after the withdrawal
    await new Promise((res) => setTimeout(res, 10));
    assert.equal(d.producer.transactions.length, committed, 'the first record\'s transaction is still committing');
    assert.equal(d.endOffsetRequests - before, 1, 'the look-up for the new record started on its arrival');
    setTimeout(() => d.deliver('consent.events'), 150);
    await d.drained('genesys.conversations');
    assert.deepEqual(outcomes(await d.decisions(), late.recordId), { crm: 'BLOCKED:CONSENT_WITHDRAWN', analytics: 'FORWARDED:CONSENT_GRANTED', thirdparty: 'FORWARDED:CONSENT_GRANTED' });
    assert.equal(d.endOffsetRequests - before, 1, 'its cycle used that look-up');
    assert.equal(d.unconfirmed, 0);
  });

  it("a fetch sent after a record arrived answers its barrier with the fetch's end offsets: no look-up", async () => {
    const d = await started({ consentWaitMs: 500, fetchedEnds: { graceMs: 60_000 } });
    d.consent('c1', ALL);
    d.fetched();
    await d.drained('consent.events');
    d.consent('c1', { MARKETING: false }, { deliver: false }); // acknowledged, not fetched yet
    const late = d.record('c1'); // produced after the withdrawal
    await new Promise((res) => setTimeout(res, 30));
    assert.equal((await d.decisions()).filter((x) => x.recordId === late.recordId).length, 0, 'no fetch sent after the record has answered yet');
    d.fetched(); // its end offsets count the withdrawal, which the task has not applied: it waits for it
    await new Promise((res) => setTimeout(res, 30));
    assert.equal((await d.decisions()).filter((x) => x.recordId === late.recordId).length, 0, 'not decided before the withdrawal is applied');
    d.deliver('consent.events');
    await d.drained('genesys.conversations');
    assert.deepEqual(outcomes(await d.decisions(), late.recordId), { crm: 'BLOCKED:CONSENT_WITHDRAWN', analytics: 'FORWARDED:CONSENT_GRANTED', thirdparty: 'FORWARDED:CONSENT_GRANTED' });
    assert.equal(d.endOffsetRequests, 0, 'the end offsets came from the fetches alone');
    assert.equal(d.unconfirmed, 0);
  });

  it('a barrier no fetch answers within the grace looks the end offsets up; a hung look-up holds the record until a fetch answers', async () => {
    const d = await started({ consentWaitMs: 500, fetchedEnds: { graceMs: 10 } });
    d.consent('c1', ALL);
    await d.drained('consent.events');
    const first = d.record('c1');
    await d.drained('genesys.conversations');
    assert.equal(outcomes(await d.decisions(), first.recordId).crm, 'FORWARDED:CONSENT_GRANTED');
    assert.ok(d.endOffsetRequests >= 1, 'looked up: no fetch answered');
    d.endOffsets = { kind: 'hang' };
    const second = d.record('c1');
    await new Promise((res) => setTimeout(res, 60));
    assert.equal((await d.decisions()).filter((x) => x.recordId === second.recordId).length, 0, 'waits: the look-up hangs');
    d.fetched();
    await d.drained('genesys.conversations');
    assert.equal(outcomes(await d.decisions(), second.recordId).crm, 'FORWARDED:CONSENT_GRANTED');
    assert.equal(d.unconfirmed, 0);
  });

  it('a slow end-offset answer on a busy event loop delays records but neither holds nor blocks them', async () => {
    const d = await started({ consentWaitMs: 20 });
    d.consent('c1', ALL);
    d.endOffsets = { kind: 'slow', ms: 30 };
    const records = [d.record('c1'), d.record('c1')];
    setTimeout(() => busy(150), 5); // the event loop is stuck for 7× consentWaitMs while the answer is due
    await d.drained('genesys.conversations');
    const ds = await d.decisions();
    for (const r of records) assert.deepEqual(outcomes(ds, r.recordId), { crm: 'FORWARDED:CONSENT_GRANTED', analytics: 'FORWARDED:CONSENT_GRANTED', thirdparty: 'FORWARDED:CONSENT_GRANTED' });
    assert.equal(d.held, 0);
    assert.equal(d.unconfirmed, 0);
  });

  it('while end offsets cannot be read, records are held in order and table records still commit; afterwards all are released', async () => {
    const d = await started({ endOffsetsTimeoutMs: 50 });
    d.consent('c1', ALL);
    await d.drained('consent.events');
    d.endOffsets = { kind: 'hang' };
    const records = Array.from({ length: 5 }, () => d.record('c1'));
    await d.until('all held', () => d.held === 5);
    d.consent('c2', ALL); // the table keeps moving during the outage
    await d.drained('consent.events');
    assert.equal((await d.decisions()).length, 0);
    d.endOffsets = { kind: 'ok' };
    await d.drained('genesys.conversations');
    const ds = await d.decisions();
    assert.deepEqual(ds.filter((x) => x.sink === 'crm').map((x) => x.recordId), records.map((r) => r.recordId), 'decided in offset order');
    assert.ok(ds.every((x) => x.outcome === 'FORWARDED'));
    assert.equal(d.unconfirmed, 0);
  });

  it('blocks CONSENT_UNCONFIRMED only the records held past the maximum hold; later ones stay held', async () => {
    const d = await started({ maxHoldMs: 60_000 });
    d.consent('c1', ALL);
    await d.drained('consent.events');
    d.endOffsets = { kind: 'fail' };
    const early = d.record('c1');
    await d.until('early held', () => d.held === 1);
    d.clock.advance(30_000);
    const late = d.record('c1');
    await d.until('late held', () => d.held === 2);
    d.clock.advance(30_000); // early: held 60 s, late: 30 s
    await d.until('early decided', async () => (await d.decisions()).length === 3);
    const ds = await d.decisions();
    assert.deepEqual(outcomes(ds, early.recordId), { crm: 'BLOCKED:CONSENT_UNCONFIRMED', analytics: 'BLOCKED:CONSENT_UNCONFIRMED', thirdparty: 'BLOCKED:CONSENT_UNCONFIRMED' });
    assert.equal(d.task.heldRecords, 1);
    assert.equal(d.committedOffset('genesys.conversations'), BigInt(1 + 0), 'only the early record is committed');
    d.endOffsets = { kind: 'ok' };
    await d.drained('genesys.conversations');
    assert.deepEqual(outcomes(await d.decisions(), late.recordId), { crm: 'FORWARDED:CONSENT_GRANTED', analytics: 'FORWARDED:CONSENT_GRANTED', thirdparty: 'FORWARDED:CONSENT_GRANTED' });
    assert.equal(d.unconfirmed, 1);
    assert.equal((await d.decisions()).length, 6, 'one decision per record and sink');
  });

  it('restores the table from its changelog before deciding: the next owner sees the consent the last one applied', async () => {
    const d = await started();
    d.consent('c1', { MARKETING: false, ANALYTICS: true, THIRD_PARTY: false });
    await d.drained('consent.events');
    await d.stop();
    await d.start(); // the next owner: an empty table, restored from consent.state
    const r = d.record('c1');
    await d.drained('genesys.conversations');
    assert.deepEqual(outcomes(await d.decisions(), r.recordId), { crm: 'BLOCKED:CONSENT_WITHDRAWN', analytics: 'FORWARDED:CONSENT_GRANTED', thirdparty: 'BLOCKED:CONSENT_WITHDRAWN' });
  });

  it('a task closed (revoked) while its producer opens closes that producer and never asks where to start', async () => {
    const d = new TopologyDriver();
    let open!: () => void;
    const starting = d.start(new Promise<void>((r) => (open = r)));
    await d.stop();
    open();
    await starting;
    assert.equal(d.producer.closes, 1, 'the producer opened after the close is closed');
    assert.equal(d.startOffsetRequests, 0);
    d.record('c1');
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(d.producer.attempts, 0, 'nothing committed');
  });

  it('a grant dated in the future does not outrank a withdrawal received after it', async () => {
    const d = await started();
    d.consent('c1', ALL, { capturedAt: Date.UTC(2099, 0, 1) });
    d.clock.advance(1000);
    d.consent('c1', { MARKETING: false });
    const r = d.record('c1');
    await d.drained('genesys.conversations');
    assert.deepEqual(outcomes(await d.decisions(), r.recordId), { crm: 'BLOCKED:CONSENT_WITHDRAWN', analytics: 'FORWARDED:CONSENT_GRANTED', thirdparty: 'FORWARDED:CONSENT_GRANTED' });
  });

  it('a record resolved through a weak link is decided for that customer but never forwarded; a conflict is blocked as one', async () => {
    const d = await started();
    d.consent('c1', ALL);
    const strong = d.record('c1', { resolvedBy: { identifier: 'EMAIL', link: 'STRONG' } });
    const weak = d.record('c1', { resolvedBy: { identifier: 'PHONE', link: 'WEAK' } });
    const conflict = d.record('c1', { resolvedBy: { identifier: 'EMAIL', link: 'CONFLICT' } });
    await d.drained('genesys.conversations');
    const ds = await d.decisions();
    assert.deepEqual(outcomes(ds, strong.recordId), { crm: 'FORWARDED:CONSENT_GRANTED', analytics: 'FORWARDED:CONSENT_GRANTED', thirdparty: 'FORWARDED:CONSENT_GRANTED' });
    assert.deepEqual(outcomes(ds, weak.recordId), { crm: 'BLOCKED:IDENTITY_WEAK', analytics: 'BLOCKED:IDENTITY_WEAK', thirdparty: 'BLOCKED:IDENTITY_WEAK' });
    assert.deepEqual(outcomes(ds, conflict.recordId), { crm: 'BLOCKED:IDENTITY_CONFLICT', analytics: 'BLOCKED:IDENTITY_CONFLICT', thirdparty: 'BLOCKED:IDENTITY_CONFLICT' });
    assert.deepEqual({ ...ds.find((x) => x.recordId === weak.recordId)!.resolvedBy }, { identifier: 'PHONE', link: 'WEAK' });
    assert.equal(ds.find((x) => x.recordId === strong.recordId)!.customerId, 'c1');
    assert.deepEqual((await d.output<SinkRecord>('sink.crm')).map((x) => x.recordId), [strong.recordId]);
  });

  it('dead-letters malformed input with its original bytes and keeps going', async () => {
    const d = await started();
    d.consent('c1', ALL);
    const garbage = Buffer.from('not avro at all');
    d.pipe('genesys.conversations', 'c1', garbage);
    const r = d.record('c1');
    await d.drained('genesys.conversations');
    const [dead] = await d.output<DeadLetterValue>('dlq');
    assert.equal(dead!.errorCode, 'DESERIALIZATION_FAILED');
    assert.deepEqual(dead!.value, garbage);
    assert.equal(dead!.offset, '0');
    assert.equal((await d.decisions()).filter((x) => x.recordId === r.recordId).length, 3);
  });

  it('retries a retriable commit failure as one transaction', async () => {
    const d = await started();
    d.producer.failures.push(new ConsentgateError('TRANSACTION_FAILED', 'broker hiccup', true));
    d.consent('c1', ALL);
    d.record('c1');
    await d.drained('genesys.conversations');
    assert.equal((await d.decisions()).length, 3);
    assert.equal(d.producer.attempts, d.producer.transactions.length + 1);
  });

  it('applies a withdrawal fetched while a transaction commits at once, not after that commit (opt-out propagation)', async () => {
    const d = await started();
    d.consent('c1', ALL);
    await d.drained('consent.events');
    d.producer.delayMs = 200;
    const attempts = d.producer.attempts;
    d.record('c1');
    await d.until('its transaction is committing', () => d.producer.attempts > attempts);
    d.consent('c1', { ANALYTICS: false }); // record timestamp: the clock now
    await new Promise((res) => setTimeout(res, 30));
    d.clock.advance(1000); // had it waited for the commit, the table would be updated 1 s after the withdrawal
    d.producer.delayMs = 0;
    const late = d.record('c1');
    await d.drained('genesys.conversations');
    assert.deepEqual(d.stats.flatMap((s) => s.observations.get('optOutPropagationMs') ?? []), [0]);
    assert.deepEqual(outcomes(await d.decisions(), late.recordId), { crm: 'FORWARDED:CONSENT_GRANTED', analytics: 'BLOCKED:CONSENT_WITHDRAWN', thirdparty: 'FORWARDED:CONSENT_GRANTED' });
    assert.equal(d.committedOffset('consent.events'), 2n);
  });

  it('with a commit interval, records wait for the next transaction unless a full batch is queued; a withdrawal is applied on arrival meanwhile', async () => {
    const d = await started({ commitIntervalMs: 60_000, maxBatchRecords: 20 });
    d.consent('c1', ALL);
    await d.drained('consent.events'); // the first transaction starts at once
    const before = d.producer.transactions.length;
    const early = Array.from({ length: 5 }, () => d.record('c1'));
    d.consent('c1', { ANALYTICS: false });
    await new Promise((res) => setTimeout(res, 100));
    assert.equal(d.producer.transactions.length, before, 'no transaction before the interval while the batch is not full');
    assert.equal((await d.decisions()).length, 0);
    const rest = Array.from({ length: 15 }, () => d.record('c1')); // 20 queued: a full batch goes now
    await d.drained('genesys.conversations');
    assert.equal(d.producer.transactions.length, before + 1, 'the records and the withdrawal in one transaction');
    assert.equal(d.committedOffset('consent.events'), 2n);
    const ds = await d.decisions();
    // The withdrawal was applied when it arrived, so no record decided after it reaches analytics.
    for (const r of [...early, ...rest]) assert.deepEqual(outcomes(ds, r.recordId), { crm: 'FORWARDED:CONSENT_GRANTED', analytics: 'BLOCKED:CONSENT_WITHDRAWN', thirdparty: 'FORWARDED:CONSENT_GRANTED' });
  });

  it('applies a withdrawal fetched while a long batch is decided before that batch ends', async () => {
    const d = await started({ maxBatchRecords: 2000 });
    d.consent('c1', ALL);
    await d.drained('consent.events');
    let prepared = 0;
    d.onEnsureKeys = () => {
      if (++prepared === 1) d.consent('c1', { ANALYTICS: false }); // fetched while the first records are decided
    };
    const records = Array.from({ length: 1000 }, () => d.record('c1'));
    await d.drained('genesys.conversations');
    const ds = await d.decisions();
    const analytics = records.map((r) => outcomes(ds, r.recordId).analytics);
    assert.equal(analytics[0], 'FORWARDED:CONSENT_GRANTED');
    assert.equal(analytics.at(-1), 'BLOCKED:CONSENT_WITHDRAWN');
    const firstBlocked = analytics.indexOf('BLOCKED:CONSENT_WITHDRAWN');
    assert.ok(firstBlocked <= 256, `blocked from record ${firstBlocked} on (after the first chunk at most)`);
    assert.ok(analytics.slice(firstBlocked).every((o) => o === 'BLOCKED:CONSENT_WITHDRAWN'), 'in order: once withdrawn, every later record is blocked');
  });

  it('a commit that fails drops the table records applied while it was in flight too; the next owner applies them once', async () => {
    const d = await started();
    d.consent('c1', ALL);
    await d.drained('consent.events');
    d.producer.delayMs = 100;
    d.producer.failures.push(new ConsentgateError('PRODUCER_FENCED', 'fenced', false));
    const attempts = d.producer.attempts;
    const r = d.record('c1');
    await d.until('its transaction is committing', () => d.producer.attempts > attempts);
    d.consent('c1', { MARKETING: false }); // applied above the committing transaction, which then fails
    await d.until('task failed', () => d.failed !== undefined);
    d.producer.delayMs = 0;
    await d.stop();
    assert.equal(d.committedOffset('consent.events'), 1n);
    await d.start();
    const late = d.record('c1');
    await d.drained('genesys.conversations');
    await d.drained('consent.events');
    const ds = await d.decisions();
    // Both records are decided by the next owner, which applies the table records first (as any owner would).
    for (const x of [r, late]) assert.deepEqual(outcomes(ds, x.recordId), { crm: 'BLOCKED:CONSENT_WITHDRAWN', analytics: 'FORWARDED:CONSENT_GRANTED', thirdparty: 'FORWARDED:CONSENT_GRANTED' });
    assert.equal(ds.length, 6);
    assert.equal(d.stats.flatMap((s) => s.observations.get('optOutPropagationMs') ?? []).length, 1, 'the withdrawal counted once, when committed');
  });

  it('records in a writer schema the registry cannot serve wait, in order, and are decided once it can; an id the registry does not know is dead-lettered', async () => {
    const d = await started();
    d.consent('c1', ALL);
    await d.drained('consent.events');
    // A newer version of the record schema (one more field, with a default), written by another producer.
    const schema = JSON.parse(readFileSync(resolve(PROJECT_ROOT, 'schemas/ConversationRecord.avsc'), 'utf8')) as { fields: object[] };
    const newer = avro.Type.forSchema({ ...schema, fields: [...schema.fields, { name: 'queueId', type: 'string', default: '' }] } as avro.Schema);
    const before = d.record('c1');
    await d.drained('genesys.conversations');
    d.registryDown = true;
    const v2 = { ...conversation('c1'), queueId: 'q-7' };
    d.pipeWriter('genesys.conversations', 'c1', v2, 77, newer);
    const behind = d.record('c1');
    await new Promise((res) => setTimeout(res, 100)); // five retries of 20 ms
    const decided = (id: string) => d.decisions().then((ds) => ds.filter((x) => x.recordId === id).length);
    assert.equal(await decided(v2.recordId), 0, 'not decided while the registry is down');
    assert.equal(await decided(behind.recordId), 0, 'the records behind it wait too (order)');
    assert.equal((await d.output('dlq')).length, 0, 'nothing dead-lettered for an outage');
    assert.equal(d.committedOffset('genesys.conversations'), 1n);
    d.registryDown = false;
    await d.drained('genesys.conversations');
    for (const r of [before, v2, behind]) assert.deepEqual(outcomes(await d.decisions(), r.recordId), { crm: 'FORWARDED:CONSENT_GRANTED', analytics: 'FORWARDED:CONSENT_GRANTED', thirdparty: 'FORWARDED:CONSENT_GRANTED' });
    const unknown = d.pipeWriter('genesys.conversations', 'c1', conversation('c1'), 99); // no such id in the registry
    await d.drained('genesys.conversations');
    const dead = await d.output<DeadLetterValue>('dlq');
    assert.equal(dead.length, 1);
    assert.equal(dead[0]!.offset, unknown.offset);
    assert.equal(dead[0]!.errorCode, 'DESERIALIZATION_FAILED');
    assert.match(dead[0]!.error, /schema id 99 is not in the registry/);
  });

  it('a record whose sink record its topic would refuse is dead-lettered instead (RECORD_TOO_LARGE); the partition goes on', async () => {
    const d = await started({ maxMessageBytes: { 'sink.crm': 4000 } });
    d.consent('c1', ALL);
    const small = d.record('c1');
    const big = d.record('c1', { attributes: { note: 'x'.repeat(5000) } }); // crm keeps attributes
    const after = d.record('c1');
    await d.drained('genesys.conversations');
    const ds = await d.decisions();
    assert.equal(ds.filter((x) => x.recordId === big.recordId).length, 0, 'no decision for a dead-lettered record');
    for (const r of [small, after]) assert.deepEqual(outcomes(ds, r.recordId), { crm: 'FORWARDED:CONSENT_GRANTED', analytics: 'FORWARDED:CONSENT_GRANTED', thirdparty: 'FORWARDED:CONSENT_GRANTED' });
    const [dead, ...more] = await d.output<DeadLetterValue>('dlq');
    assert.equal(more.length, 0);
    assert.equal(dead!.errorCode, 'RECORD_TOO_LARGE');
    assert.match(dead!.error, /its \S*sink\.crm record would take \d+ bytes, over that topic's max\.message\.bytes \(4000\)/);
    assert.equal(dead!.offset, '1');
    assert.equal(dead!.truncated, null);
    assert.equal((await d.output<SinkRecord>('sink.crm')).length, 2);
  });

  it('a dead letter too large for the dlq keeps a prefix of the original bytes, their sizes and a SHA-256 of the whole', async () => {
    const d = await started({ maxMessageBytes: { dlq: 8000 } });
    const garbage = Buffer.concat([Buffer.from([0]), randomBytes(20_000)]);
    d.pipe('genesys.conversations', 'c1', garbage);
    await d.drained('genesys.conversations');
    const raw = d.raw('dlq');
    assert.equal(raw.length, 1);
    assert.ok(recordBatchBytes(raw[0]!) <= 8000, `${recordBatchBytes(raw[0]!)} bytes`);
    const [dead] = await d.output<DeadLetterValue>('dlq');
    assert.equal(dead!.errorCode, 'DESERIALIZATION_FAILED');
    assert.deepEqual({ ...dead!.truncated }, { keyBytes: 2, valueBytes: garbage.length, headerBytes: 0, sha256: createHash('sha256').update('c1').update(garbage).digest('hex') });
    assert.ok(dead!.value!.length > 1000 && garbage.subarray(0, dead!.value!.length).equals(dead!.value!), 'a prefix of the original value');
    assert.match(dead!.error, /do not fit the dlq: prefixes kept, headers dropped; sha256 of key\+value [0-9a-f]{64}/);
  });

  it('a record the broker refuses after all is found by bisection and dead-lettered alone; the others are decided once', async () => {
    const d = await started({ maxBatchRecords: 100 });
    d.consent('c1', ALL);
    await d.drained('consent.events');
    // e.g. a topic's max.message.bytes lowered after the engine read it: the size check passes, the broker refuses.
    d.producer.refuses = (r) => r.topic === d.name('sink.crm') && r.value!.includes('POISON');
    const records = Array.from({ length: 40 }, (_, i) => d.record('c1', i === 27 ? { attributes: { note: 'POISON' } } : {}));
    await d.drained('genesys.conversations');
    const ds = await d.decisions();
    for (const [i, r] of records.entries()) assert.equal(ds.filter((x) => x.recordId === r.recordId).length, i === 27 ? 0 : 3, `record ${i}`);
    const dead = await d.output<DeadLetterValue>('dlq');
    assert.deepEqual(dead.map((x) => [x.errorCode, x.offset]), [['RECORD_REJECTED', '27']]);
    assert.match(dead[0]!.error, /MESSAGE_TOO_LARGE/);
    assert.equal(d.failed, undefined);
    // Back to full batches afterwards.
    const attempts = d.producer.attempts;
    for (let i = 0; i < 30; i++) d.record('c1');
    await d.drained('genesys.conversations');
    assert.ok(d.producer.attempts - attempts <= 3, `${d.producer.attempts - attempts} transactions for 30 records`);
  });

  it('counts the bytes of queued stream records (the engine pauses fetching past 64 MB) and frees them when decided', async () => {
    const d = await started();
    d.consent('c1', ALL);
    await d.drained('consent.events');
    d.endOffsets = { kind: 'fail' }; // held: queued, undecided
    const piped = [d.record('c1'), d.record('c1', { transcript: 'y'.repeat(10_000) })].map((r) => r.recordId);
    await d.until('held', () => d.held === 2);
    const raw = d.raw('genesys.conversations');
    assert.equal(d.task.streamBacklogBytes, raw.reduce((n, r) => n + r.key!.length + r.value!.length, 0));
    assert.ok(d.task.streamBacklogBytes > 10_000);
    d.endOffsets = { kind: 'ok' };
    await d.drained('genesys.conversations');
    assert.equal(d.task.streamBacklogBytes, 0);
    assert.equal((await d.decisions()).filter((x) => piped.includes(x.recordId)).length, 6);
  });

  it('rolls back the stores on a failed commit: the next owner re-processes from the committed offsets, exactly once', async () => {
    const d = await started();
    d.consent('c1', ALL);
    await d.drained('consent.events');
    d.producer.failures.push(new ConsentgateError('PRODUCER_FENCED', 'fenced', false));
    d.consent('c1', { MARKETING: false });
    const r = d.record('c1');
    await d.until('task failed', () => d.failed !== undefined);
    assert.equal((await d.decisions()).length, 0, 'nothing of the failed transaction is visible');
    await d.stop();
    await d.start();
    await d.drained('genesys.conversations');
    const ds = await d.decisions();
    assert.equal(ds.length, 3);
    assert.deepEqual(outcomes(ds, r.recordId), { crm: 'BLOCKED:CONSENT_WITHDRAWN', analytics: 'FORWARDED:CONSENT_GRANTED', thirdparty: 'FORWARDED:CONSENT_GRANTED' });
  });
});
