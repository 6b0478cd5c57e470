import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Pipeline } from '../../src/app.ts';
import type { SinkRecord } from '../../src/domain/fieldRules.ts';
import type { Decision } from '../../src/domain/types.ts';
import type { DeadLetterValue } from '../../src/runtime/task.ts';
import { HEADER_CONSENT_VERSION, HEADER_POLICY_VERSION } from '../../src/processors/enforcement.ts';
import { decryptSinkRecord } from '../../src/adapters/shredding.ts';
import { startPipeline, testConfig, TopicClient, waitFor } from '../harness/pipeline.ts';

describe('enforcement on a real broker', () => {
  let p: Pipeline;
  let c: TopicClient;
  before(async () => {
    p = await startPipeline(testConfig());
    c = await TopicClient.open(p);
  });
  after(async () => {
    await c?.close();
    await p?.stop();
  });

  const decisionsFor = async (recordId: string) =>
    (await c.read<Decision>('audit.decisions')).map((d) => d.value).filter((d) => d.recordId === recordId);
  const decided = (recordId: string) => waitFor(`decisions for ${recordId}`, async () => (await decisionsFor(recordId)).length === 3);
  const inSink = async (sink: string, recordId: string) => (await c.read<SinkRecord>(`sink.${sink}`)).filter((r) => r.value.recordId === recordId);

  it('forwards to each sink whose purposes are granted, reduced by its field rules, with version headers', async () => {
    await c.consent('dave', { MARKETING: true, ANALYTICS: true, THIRD_PARTY: false });
    const r = await c.record('dave');
    await decided(r.recordId);
    const ds = await decisionsFor(r.recordId);
    const bySink = Object.fromEntries(ds.map((d) => [d.sink, `${d.outcome}:${d.reason}`]));
    assert.deepEqual(bySink, { crm: 'FORWARDED:CONSENT_GRANTED', analytics: 'FORWARDED:CONSENT_GRANTED', thirdparty: 'BLOCKED:CONSENT_WITHDRAWN' });
    const [crm] = await inSink('crm', r.recordId);
    assert.ok(crm);
    assert.equal(crm.raw.headers[HEADER_POLICY_VERSION]?.toString(), p.policy.version);
    assert.equal(crm.raw.headers[HEADER_CONSENT_VERSION]?.toString(), '1');
    assert.match(crm.value.participants[0]!.name!, /^shr:v2#\d+$/, 'crm gets the name crypto-shredded');
    assert.match(crm.value.shredded!, /^shr:v2:/, 'sealed with the record\'s other shredded values');
    for (const pii of ['Ann Example', '+15550001']) assert.ok(!JSON.stringify(crm.value).includes(pii));
    const readable = await decryptSinkRecord(crm.value, p.keyStore!);
    assert.equal(readable.record.participants[0]!.name, 'Ann Example', 'which the key store decrypts');
    assert.equal(readable.record.ani, '+15550001');
    assert.equal(crm.value.transcript, null, 'crm drops the transcript');
    const [analytics] = await inSink('analytics', r.recordId);
    assert.match(analytics!.value.ani!, /^psn:/, 'analytics gets a pseudonym');
    assert.equal(analytics!.value.participants[0]!.name, null);
    assert.equal((await inSink('thirdparty', r.recordId)).length, 0);
    // Decisions carry ids and reasons only.
    const text = JSON.stringify(ds);
    for (const pii of ['Ann Example', '+15550001', 'ann@example.com', 'cancel my order']) assert.ok(!text.includes(pii));
  });

  it('a kept value that looks crypto-shredded reaches a shredding sink sealed, and decrypts as itself', async () => {
    await c.consent('fay', { MARKETING: true, ANALYTICS: true, THIRD_PARTY: true });
    // crm keeps dnis and attributes and shreds the name, address and ANI; a caller typed what looks like a reference.
    const r = await c.record('fay', { dnis: 'shr:v2#0', attributes: { note: 'shr:v1:x:AAAA', email: 'fay@example.com' } });
    await decided(r.recordId);
    const [crm] = await inSink('crm', r.recordId);
    assert.match(crm!.value.dnis!, /^shr:v2#\d+$/);
    assert.equal(crm!.value.attributes.email, 'fay@example.com', 'a kept value stays in the clear');
    const readable = await decryptSinkRecord(crm!.value, p.keyStore!);
    assert.equal(readable.failures, 0);
    assert.deepEqual([readable.record.dnis, readable.record.attributes.note, readable.record.ani, readable.record.participants[0]!.name], ['shr:v2#0', 'shr:v1:x:AAAA', '+15550001', 'Ann Example']);
  });

  it('blocks unknown customers and records without a subject, with their reasons; exports too', async () => {
    const unknown = await c.record('nobody-knows-me');
    const anonymous = await c.record(null);
    const exported = await c.record('erin', {}, 'genesys.exports');
    for (const r of [unknown, anonymous, exported]) await decided(r.recordId);
    assert.ok((await decisionsFor(unknown.recordId)).every((d) => d.outcome === 'BLOCKED' && d.reason === 'CONSENT_UNKNOWN'));
    assert.ok((await decisionsFor(anonymous.recordId)).every((d) => d.outcome === 'BLOCKED' && d.reason === 'NO_SUBJECT'));
    assert.ok((await decisionsFor(exported.recordId)).every((d) => d.reason === 'CONSENT_UNKNOWN' && d.inputTopic === c.name('genesys.exports')));
  });

  it('a channel-specific withdrawal beats the purpose-level grant for that channel only', async () => {
    await c.consent('frank', { MARKETING: true }, { capturedAt: Date.now() - 1000 });
    await c.consent('frank', { MARKETING: false }, { channel: 'CHAT' });
    const chat = await c.record('frank', { channel: 'CHAT' });
    const voice = await c.record('frank', { channel: 'VOICE' });
    await decided(chat.recordId);
    await decided(voice.recordId);
    assert.equal((await decisionsFor(chat.recordId)).find((d) => d.sink === 'crm')!.outcome, 'BLOCKED');
    assert.equal((await decisionsFor(voice.recordId)).find((d) => d.sink === 'crm')!.outcome, 'FORWARDED');
  });

  it('a revocation acknowledged before a record is produced blocks that record', async () => {
    await c.consent('gina', { MARKETING: true, ANALYTICS: true, THIRD_PARTY: true });
    const before = await c.record('gina');
    await decided(before.recordId);
    await c.consent('gina', { MARKETING: false, ANALYTICS: false, THIRD_PARTY: false });
    const afterRevocation = await c.record('gina');
    await decided(afterRevocation.recordId);
    assert.ok((await decisionsFor(before.recordId)).every((d) => d.outcome === 'FORWARDED'));
    const ds = await decisionsFor(afterRevocation.recordId);
    assert.ok(ds.every((d) => d.outcome === 'BLOCKED' && d.reason === 'CONSENT_WITHDRAWN'), JSON.stringify(ds));
    for (const sink of ['crm', 'analytics', 'thirdparty']) assert.equal((await inSink(sink, afterRevocation.recordId)).length, 0);
  });

  it('sends malformed input to the dlq with its original bytes and keeps processing', async () => {
    const garbage = Buffer.from([0, 0, 0, 0, 99, 1, 2, 3]);
    await c.send([{ topic: c.name('genesys.conversations'), key: 'henry', value: garbage }]);
    await c.send([{ topic: c.name('consent.events'), key: 'henry', value: Buffer.from('not avro') }]);
    // Valid Avro, but the key is not the customer id: it may sit on the wrong partition.
    await c.send([{ topic: c.name('genesys.conversations'), key: 'someone-else', value: p.serdes.forTopic('genesys.conversations').encode((await import('../harness/pipeline.ts')).conversation('henry')) }]);
    const next = await c.record('henry');
    await decided(next.recordId);
    await waitFor('three dead letters', async () => (await c.read<DeadLetterValue>('dlq')).length >= 3);
    const dlq = (await c.read<DeadLetterValue>('dlq')).map((d) => d.value);
    const bad = dlq.find((d) => d.value?.equals(garbage));
    assert.ok(bad, 'original bytes preserved');
    assert.equal(bad.errorCode, 'DESERIALIZATION_FAILED');
    assert.equal(bad.topic, c.name('genesys.conversations'));
    assert.ok(dlq.some((d) => d.topic === c.name('consent.events') && d.value?.toString() === 'not avro'));
    assert.ok(dlq.some((d) => d.errorCode === 'VALIDATION_FAILED' && /key is not the customerId/.test(d.error)));
  });
});
