import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, describe, it } from 'node:test';
import { EndOffsetReader } from '../../src/adapters/kafka.ts';
import { FetchedEndOffsets } from '../../src/runtime/endOffsets.ts';
import type { Pipeline } from '../../src/app.ts';
import type { ConsentEvent, Decision } from '../../src/domain/types.ts';
import { startPipeline, testConfig, TopicClient, waitFor } from '../harness/pipeline.ts';

// Guarantees 2 and 3 under adversarial timing: a revocation acknowledged by the broker is seen by every later
// decision, and consent that cannot be confirmed current never opens the gate: its records wait (held), and only a
// record held past the maximum hold is blocked CONSENT_UNCONFIRMED.
const open: { p: Pipeline; c: TopicClient }[] = [];
after(async () => {
  for (const { p, c } of open) {
    await c.close();
    await p.stop();
  }
});
async function pipeline(extra: Record<string, string> = {}) {
  const p = await startPipeline(testConfig(undefined, extra));
  const c = await TopicClient.open(p);
  open.push({ p, c });
  return { p, c };
}
const crmDecisions = async (c: TopicClient) => new Map((await c.read<Decision>('audit.decisions')).filter((d) => d.value.sink === 'crm').map((d) => [d.value.recordId, d.value]));

describe('read-your-revocation and fail-closed', () => {
  it('blocks a record sent right after the revocation was acknowledged, even in the same millisecond', async () => {
    const { c } = await pipeline();
    const customers = Array.from({ length: 20 }, (_, i) => `same-ms-${i}`);
    for (const id of customers) await c.consent(id, { MARKETING: true, ANALYTICS: true, THIRD_PARTY: true });
    const warm = await c.record(customers[0]!);
    await waitFor('warm-up decided', async () => (await crmDecisions(c)).has(warm.recordId));
    const records: string[] = [];
    for (const id of customers) {
      const at = Date.now();
      await c.consent(id, { MARKETING: false }, { capturedAt: at }); // acknowledged (acks=all) when this resolves
      records.push((await c.record(id, { occurredAt: at })).recordId);
    }
    await waitFor('all decided', async () => {
      const ds = await crmDecisions(c);
      return records.every((r) => ds.has(r));
    });
    const ds = await crmDecisions(c);
    assert.deepEqual(records.map((r) => ds.get(r)!.outcome), records.map(() => 'BLOCKED'));
    assert.deepEqual(records.map((r) => ds.get(r)!.reason), records.map(() => 'CONSENT_WITHDRAWN'));
  });

  it('records behind a consent partition lagging 150,000 events wait for it, then see the revocation', async () => {
    const config = testConfig(undefined, { CONSENTGATE_CONSENT_WAIT_MS: '50' });
    let p = await startPipeline(config);
    const c = await TopicClient.open(p);
    await c.consent('laggard', { MARKETING: true, ANALYTICS: true, THIRD_PARTY: true });
    const first = await c.record('laggard');
    await waitFor('granted record decided', async () => (await crmDecisions(c)).get(first.recordId)?.outcome === 'FORWARDED');
    const partition = (await c.read<ConsentEvent>('consent.events')).find((e) => e.value.customerId === 'laggard')!.raw.partition;

    // While the instance is down: 150,000 consent events of other customers on the laggard's partition, then the
    // revocation, then records. The instance that takes over starts 150,000 events behind.
    await p.stop();
    const serde = p.serdes.forTopic<ConsentEvent>('consent.events');
    const topic = c.name('consent.events');
    const backlog = Array.from({ length: 150_000 }, (_, i) => {
      const customerId = `lag-${i}`;
      return { topic, key: customerId, partition, value: serde.encode({ eventId: randomUUID(), customerId, capturedAt: Date.now(), source: 'IMPORT', purposes: [{ purpose: 'ANALYTICS', granted: true, channel: null }] }) };
    });
    await c.send(backlog);
    await c.consent('laggard', { MARKETING: false });
    const records: string[] = [];
    for (let i = 0; i < 10; i++) records.push((await c.record('laggard')).recordId);
    p = await startPipeline(config);
    open.push({ p, c });

    await waitFor('records decided', async () => {
      const ds = await crmDecisions(c);
      return records.every((r) => ds.has(r));
    }, 60_000);
    const ds = await crmDecisions(c);
    assert.deepEqual(records.map((r) => `${ds.get(r)!.outcome}:${ds.get(r)!.reason}`), records.map(() => 'BLOCKED:CONSENT_WITHDRAWN'));
    assert.equal((await c.read<{ recordId: string }>('sink.crm')).filter((r) => records.includes(r.value.recordId)).length, 0);
  });

  it('while the consent topic cannot be read, records are held and then released; past the maximum hold they are blocked', async () => {
    const { p, c } = await pipeline({ CONSENTGATE_CONSENT_WAIT_MS: '200', CONSENTGATE_MAX_HOLD_MS: '8000' });
    await c.consent('steady', { MARKETING: true, ANALYTICS: true, THIRD_PARTY: true });
    const before = await c.record('steady');
    await waitFor('granted record forwarded', async () => (await crmDecisions(c)).get(before.recordId)?.outcome === 'FORWARDED');

    // The table topics' end offsets stop answering (as when the consent partition's leader is unreachable): the
    // ListOffsets requests of this process hang, and its fetches report no end offsets (a fetch with a partition in
    // error fails whole in kafkajs, and reports nothing).
    const read = EndOffsetReader.prototype.read;
    const observe = FetchedEndOffsets.prototype.observe;
    const outage = (on: boolean) => {
      EndOffsetReader.prototype.read = on ? () => new Promise(() => {}) : read;
      FetchedEndOffsets.prototype.observe = on ? () => {} : observe;
    };
    const send = async (n: number) => {
      const ids: string[] = [];
      for (let i = 0; i < n; i++) ids.push((await c.record('steady')).recordId);
      return ids;
    };

    // A short outage (well below the 8 s maximum hold, with the 2 s the hung end-offset request takes to time out
    // after it ends): held, undecided, then forwarded once the topic answers.
    outage(true);
    const short = await send(5);
    await waitFor('held', () => p.engine.heldRecords === short.length);
    await new Promise((r) => setTimeout(r, 1000));
    let ds = await crmDecisions(c);
    assert.equal(short.filter((r) => ds.has(r)).length, 0, 'undecided while held');
    outage(false);
    await waitFor('released', async () => (ds = await crmDecisions(c), short.every((r) => ds.has(r))));
    assert.deepEqual(short.map((r) => ds.get(r)!.outcome), short.map(() => 'FORWARDED'));

    // A long outage: blocked CONSENT_UNCONFIRMED once held for 8 s, not before.
    outage(true);
    const sentAt = Date.now();
    const long = await send(3);
    await waitFor('blocked after the maximum hold', async () => (ds = await crmDecisions(c), long.every((r) => ds.has(r))), 30_000);
    assert.ok(Math.min(...long.map((r) => ds.get(r)!.decidedAt)) - sentAt >= 8000, 'not blocked before the maximum hold');
    assert.deepEqual(long.map((r) => `${ds.get(r)!.outcome}:${ds.get(r)!.reason}`), long.map(() => 'BLOCKED:CONSENT_UNCONFIRMED'));
    outage(false);
    assert.equal(p.engine.metrics.unconfirmed, long.length);
    assert.ok(p.engine.metrics.held >= short.length + long.length);
  });
});
